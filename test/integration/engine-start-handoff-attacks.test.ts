import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAction } from '../../src/actions/action.js';
import type { AuditTrail } from '../../src/audit/trail.js';
import { createAuditTrail } from '../../src/audit/trail.js';
import { systemClock } from '../../src/core/clock.js';
import type { Database } from '../../src/db/database.js';
import { StepError } from '../../src/engine/core/step-error.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';
import { playbook, runsSettled, testEngine } from './engine-harness.js';
import { faultyDatabase } from './engine-faults.js';

/**
 * Attacks on the start handoff (src/engine/handoff.ts) and the claim loop (worker.ts), by an
 * independent reviewer: each of the first three failed on the version it attacked (a start
 * retried after a stale plan stranded its step and lost `run.running`; a claimed step that
 * found its slot taken waited for that slot while another worker idled; a retry due at once
 * waited for the poll).
 */
const stamping = (name: string, seen: Map<string, number>, holdMs = 0) =>
  defineAction({
    name,
    changesState: false,
    params: z.strictObject({}),
    async run(_params, ctx) {
      seen.set(ctx.runId, Date.now());
      if (holdMs) await new Promise((r) => setTimeout(r, holdMs));
      return {};
    },
  });

describe.each(databaseKinds)('start handoff attacks (%s)', (kind) => {
  let t: TestDatabase;
  afterEach(async () => {
    await t?.dispose();
  });

  it.runIf(kind === 'postgres')('a start whose transaction is retried (stale plan) still runs its first step at once', async () => {
    t = await freshDatabase(kind);
    // The first `run.started` append fails like a prepared statement whose result type changed
    // (database.ts retries such a transaction once: retryingStalePlans).
    let stale = 1;
    const trail = createAuditTrail(t.db, systemClock);
    const audit = new Proxy(trail, {
      get(target, prop) {
        if (prop === 'appendMany') {
          return async (...args: Parameters<AuditTrail['appendMany']>) => {
            if (stale > 0 && args[0].some((e) => e.action === 'run.started')) {
              stale--;
              throw Object.assign(new Error('cached plan must not change result type'), { code: '0A000', routine: 'RevalidateCachedQuery' });
            }
            return target.appendMany(...args);
          };
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const seen = new Map<string, number>();
    const engine = testEngine(t.db, systemClock, { audit, options: { concurrency: 2, pollMs: 60_000 } });
    engine.actions.register(stamping('test.stamp', seen));
    const pb = playbook('stale-retry', [{ id: 'only', kind: 'action', action: 'test.stamp', params: {} }]);
    const worker = engine.createWorker('w');
    await worker.start();
    try {
      const { runId } = await engine.startRun({ playbook: pb });
      expect(stale).toBe(0);
      const steps = await t.db.rows<{ status: string; lease_owner: string | null }>(
        sql`select status, lease_owner from engine_steps where run_id = ${runId}`,
      );
      // Handed over means claimed in the commit; here the commit left it `ready`, with nobody woken.
      const states = await runsSettled(engine, [runId], 3_000);
      expect.soft(steps).toEqual([expect.objectContaining({ status: 'running' })]);
      expect.soft(states).toEqual(['succeeded']);
      // The retried transaction's audit: run.running is missing (applyEffects mutated the row's state on the first try).
      await trail.flush();
      const actions = (await trail.page({ limit: 100 })).filter((e) => e.subject.id === runId || (e.data as { run?: string }).run === runId).map((e) => e.action);
      expect.soft(actions.slice(0, 3)).toEqual(['run.started', 'run.running', 'step.created']);
    } finally {
      await worker.stop();
    }
  });

  it('a start whose COMMIT landed but whose answer was lost runs its first step at once, not when the lease runs out', async () => {
    t = await freshDatabase(kind);
    const { db, faults } = faultyDatabase(t.db);
    const seen = new Map<string, number>();
    // A lease far longer than the test: the step may only run if the start gave it back.
    const engine = testEngine(db, systemClock, { options: { concurrency: 2, pollMs: 60_000, leaseMs: 600_000 } });
    engine.actions.register(stamping('test.stamp', seen));
    const pb = playbook('in-doubt', [{ id: 'only', kind: 'action', action: 'test.stamp', params: {} }]);
    const worker = engine.createWorker('w');
    await worker.start();
    try {
      faults.loseNextCommitAnswer = true;
      await expect(engine.startRun({ playbook: pb, startKey: 'alert:in-doubt' })).rejects.toThrow(/CONNECTION_CLOSED/);
      // The caller retries with its start key, as ingest does: the run had landed, so it is adopted.
      const { runId } = await engine.startRun({ playbook: pb, startKey: 'alert:in-doubt' });
      expect(await runsSettled(engine, [runId], 15_000)).toEqual(['succeeded']);
      expect(seen.has(runId)).toBe(true);
      const attempts = await t.db.rows<{ n: number }>(sql`select count(*)::int as n from engine_attempts a join engine_steps s on s.id = a.step_id where s.run_id = ${runId}`);
      expect(attempts[0]!.n).toBe(1); // the attempt the lost commit prestarted is the one that ran (a takeover), not a second
    } finally {
      await worker.stop();
    }
  });

  it('a result whose COMMIT landed but whose answer was lost does not strand the next step it claimed', async () => {
    t = await freshDatabase(kind);
    const { db, faults } = faultyDatabase(t.db);
    const calls: string[] = [];
    const engine = testEngine(db, systemClock, { options: { concurrency: 2, pollMs: 60_000, leaseMs: 600_000 } });
    engine.actions.register(
      defineAction({
        name: 'test.first',
        changesState: false,
        params: z.strictObject({}),
        async run() {
          calls.push('first');
          faults.loseNextCommitAnswer = true; // the next transaction is this result's
          return {};
        },
      }),
    );
    engine.actions.register(stamping('test.stamp', new Map()));
    const pb = playbook('in-doubt-result', [
      { id: 'one', kind: 'action', action: 'test.first', params: {} },
      { id: 'two', kind: 'action', action: 'test.stamp', params: {} },
    ]);
    const worker = engine.createWorker('w');
    await worker.start();
    try {
      const { runId } = await engine.startRun({ playbook: pb });
      expect(await runsSettled(engine, [runId], 15_000)).toEqual(['succeeded']);
      expect(calls).toEqual(['first']);
    } finally {
      await worker.stop();
    }
  });

  it('a claimed step that does not fit (a start took the slot) is given back at once for another worker', async () => {
    t = await freshDatabase(kind);
    const seen = new Map<string, number>();
    let hook: (() => Promise<void>) | undefined;
    // The first `rows` call of engine A after the hook is set is its worker's claim: land a start
    // of engine A (which takes A's only slot) while that claim is out.
    const dbA: Database = {
      ...t.db,
      rows: (async (...args: Parameters<Database['rows']>) => {
        const h = hook;
        hook = undefined;
        if (h) await h();
        return t.db.rows(...args);
      }) as Database['rows'],
    };
    const a = testEngine(dbA, systemClock, { options: { concurrency: 1, pollMs: 60_000, leaseMs: 30_000 } });
    const b = testEngine(t.db, systemClock, { options: { concurrency: 4, pollMs: 50, leaseMs: 30_000 } });
    for (const e of [a, b]) {
      e.actions.register(stamping('test.quick', seen));
      e.actions.register(stamping('test.slow', seen, 3_000));
    }
    const quick = playbook('overflow-quick', [{ id: 'only', kind: 'action', action: 'test.quick', params: {} }]);
    const slow = playbook('overflow-slow', [{ id: 'only', kind: 'action', action: 'test.slow', params: {} }]);
    // Due before any worker runs: left `ready`.
    const x = await a.startRun({ playbook: quick });
    let slowRun: string | undefined;
    hook = async () => {
      slowRun = (await a.startRun({ playbook: slow })).runId;
    };
    const wa = a.createWorker('a');
    const wb = b.createWorker('b');
    await wa.start();
    try {
      for (let i = 0; i < 200 && !slowRun; i++) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 100));
      const t0 = Date.now();
      await wb.start();
      const states = await runsSettled(a, [x.runId], 6_000);
      expect(states).toEqual(['succeeded']);
      // B had four free slots from t0 on; x waited for A's slow step instead.
      expect(seen.get(x.runId)! - t0).toBeLessThan(1_000);
    } finally {
      await Promise.all([wa.stop(), wb.stop()]);
    }
  });

  it('a retry due at once is run when its slot frees, not at the next poll', async () => {
    t = await freshDatabase(kind);
    let failures = 1;
    const done: string[] = [];
    // Full jitter with random 0: the retry is due the moment it is recorded.
    const engine = testEngine(t.db, systemClock, { random: () => 0, options: { concurrency: 2, pollMs: 60_000 } });
    engine.actions.register(
      defineAction({
        name: 'test.flaky',
        changesState: false,
        params: z.strictObject({}),
        async run(_params, ctx) {
          if (failures-- > 0) throw new StepError('http_503', 'flaky (injected)', { retryable: true });
          done.push(ctx.runId);
          return {};
        },
      }),
    );
    const pb = playbook('retry-now', [{ id: 'only', kind: 'action', action: 'test.flaky', params: {}, retry: { maxAttempts: 3, initialDelay: '1s', maxDelay: '1s' } }]);
    const worker = engine.createWorker('w');
    await worker.start();
    try {
      await new Promise((r) => setTimeout(r, 100));
      const { runId } = await engine.startRun({ playbook: pb });
      expect(await runsSettled(engine, [runId], 3_000)).toEqual(['succeeded']);
    } finally {
      await worker.stop();
    }
  });

  it('a start that finds every slot busy runs as soon as a slot frees (wake while busy)', async () => {
    t = await freshDatabase(kind);
    const seen = new Map<string, number>();
    const engine = testEngine(t.db, systemClock, { options: { concurrency: 1, pollMs: 60_000 } });
    engine.actions.register(stamping('test.slow', seen, 300));
    engine.actions.register(stamping('test.quick', seen));
    const slow = playbook('busy-slow', [{ id: 'only', kind: 'action', action: 'test.slow', params: {} }]);
    const quick = playbook('busy-quick', [{ id: 'only', kind: 'action', action: 'test.quick', params: {} }]);
    const worker = engine.createWorker('w');
    await worker.start();
    try {
      await new Promise((r) => setTimeout(r, 100));
      const s = await engine.startRun({ playbook: slow });
      const q = await engine.startRun({ playbook: quick });
      expect(await runsSettled(engine, [s.runId, q.runId], 3_000)).toEqual(['succeeded', 'succeeded']);
    } finally {
      await worker.stop();
    }
  });

  it('a handed run and a polled run leave the same audit trail and run state', async () => {
    t = await freshDatabase(kind);
    const trail = createAuditTrail(t.db, systemClock);
    const seen = new Map<string, number>();
    const engine = testEngine(t.db, systemClock, { audit: trail, options: { concurrency: 2, pollMs: 60_000 } });
    engine.actions.register(stamping('test.stamp', seen));
    const pb = playbook('audit-compare', [
      { id: 'first', kind: 'action', action: 'test.stamp', params: {} },
      { id: 'second', kind: 'action', action: 'test.stamp', params: {} },
    ]);
    // Polled: no worker started, then drained.
    const polled = await engine.startRun({ playbook: pb, startKey: 'p' });
    const drainer = engine.createWorker('w');
    await drainer.drain();
    // Handed.
    const worker = engine.createWorker('w');
    await worker.start();
    let handed: { runId: string; state: string };
    try {
      handed = await engine.startRun({ playbook: pb, startKey: 'h' });
      expect(await runsSettled(engine, [handed.runId], 3_000)).toEqual(['succeeded']);
    } finally {
      await worker.stop();
    }
    expect(handed.state).toBe(polled.state);
    await trail.flush();
    const all = await trail.page({ limit: 1000 });
    const shape = (runId: string, correlationId: string) =>
      all
        .filter((e) => e.correlationId === correlationId)
        .map((e) => ({ action: e.action, actor: `${e.actor.type}:${e.actor.id}`, subject: e.subject.type, data: JSON.stringify(e.data).replaceAll(runId, 'RUN') }))
        .map((e) => ({ ...e, data: e.data.replace(/"(id|stepId|step_id|attemptId)":"[0-9a-f-]{36}"/g, '"$1":"X"') }));
    const p = await engine.getRun(polled.runId);
    const h = await engine.getRun(handed!.runId);
    expect(shape(h!.id, h!.correlationId)).toEqual(shape(p!.id, p!.correlationId));
  });
});
