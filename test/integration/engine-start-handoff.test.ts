import { sql } from 'drizzle-orm';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAction } from '../../src/actions/action.js';
import { createAuditTrail } from '../../src/audit/trail.js';
import { ManualClock, systemClock } from '../../src/core/clock.js';
import { readRunForStep } from '../../src/engine/sql/load.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';
import { faultyAudit, faultyDatabase } from './engine-faults.js';
import { playbook, runsSettled, testEngine } from './engine-harness.js';

/**
 * A run started by a process with a started worker that has a free slot gets its first step
 * claimed for that slot in the starting commit and handed over (src/engine/handoff.ts): no
 * wake-up, no claim statement, no read. These tests attack it: the step must see the run
 * exactly as stored, a slot must never leak (a start that fails, one that adopts an existing
 * run, one that races a stopping worker), and a step whose slot dies before its attempt starts
 * must be taken over once its lease runs out, and run once.
 */
const claimsOf = async (registry: Registry) => {
  const metric = registry.getSingleMetric('quench_engine_step_claims_total');
  const values = metric ? (await metric.get()).values : [];
  const by = (via: string) => values.find((v) => v.labels.via === via)?.value ?? 0;
  return { poll: by('poll'), chain: by('chain'), start: by('start') };
};

const counting = (calls: string[]) =>
  defineAction({
    name: 'test.count',
    changesState: false,
    params: z.strictObject({}),
    async run(_params, ctx) {
      calls.push(ctx.runId);
      return {};
    },
  });

describe.each(databaseKinds)('the first step handed over by the start (%s)', (kind) => {
  let t: TestDatabase;
  afterEach(async () => {
    await t?.dispose();
  });

  it('runs on the run as stored (trigger, inputs and steps, values and key order) and is claimed by no statement', async () => {
    t = await freshDatabase(kind);
    const registry = new Registry();
    const engine = testEngine(t.db, systemClock, { registry, options: { concurrency: 8, pollMs: 60_000 } });
    const mismatches: unknown[] = [];
    let compared = 0;
    engine.actions.register(
      defineAction({
        name: 'test.observe',
        changesState: false,
        params: z.strictObject({ trigger: z.unknown(), inputs: z.unknown(), steps: z.unknown() }),
        async run(params, ctx) {
          const stored = (await readRunForStep(t.db.orm, ctx.runId))!;
          const expected = {
            trigger: stored.run.trigger ?? {},
            inputs: stored.run.inputs ?? {},
            steps: Object.fromEntries(
              stored.rows.map((r) => [r.stepKey, { status: r.status, output: r.output ?? null, params: null, error: r.error ?? null }]),
            ),
          };
          compared++;
          if (JSON.stringify(params) !== JSON.stringify(expected)) mismatches.push({ seen: params, expected });
          return {};
        },
      }),
    );
    const pb = playbook('handed-view', [{ id: 'first', kind: 'action', action: 'test.observe', params: { trigger: '${{ trigger }}', inputs: '${{ inputs }}', steps: '${{ steps }}' } }], {
      inputs: { zone: { type: 'string', default: 'eu-west-1' }, attempts: { type: 'integer', default: 3 }, b: { type: 'map', default: { z: 1, a: 2 } } },
    });
    const worker = engine.createWorker('handoff');
    await worker.start();
    const ids: string[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        const trigger = {
          source: 'generic:test',
          type: 'alert.firing',
          key: `k-${i}`,
          summary: 'disk full',
          labels: { zone: 'b', alertname: 'DiskFull', a: 'x' },
          annotations: {},
          occurredAt: new Date('2026-12-02T10:00:00Z'),
          resolved: false,
          payload: { zeta: 1, alpha: { y: [3, 2, 1], b: null, a: 'é"\\' }, mid: true },
        };
        ids.push((await engine.startRun({ playbook: pb, trigger, inputs: { b: { zz: 1, aa: { k: 2, c: 1 } } } })).runId);
      }
      expect(await runsSettled(engine, ids)).toEqual(ids.map(() => 'succeeded'));
    } finally {
      await worker.stop();
    }
    expect(compared).toBe(5);
    expect(mismatches).toEqual([]);
    const claims = await claimsOf(registry);
    expect(claims).toEqual({ start: 5, poll: 0, chain: 0 });
  });

  it('gives the slot back when the start fails or adopts an existing run: a worker of one slot still runs the next run', async () => {
    t = await freshDatabase(kind);
    const registry = new Registry();
    let failStarts = false;
    const calls: string[] = [];
    const audit = faultyAudit(createAuditTrail(t.db, systemClock), (action) => failStarts && action === 'run.started');
    const engine = testEngine(t.db, systemClock, { registry, audit, options: { concurrency: 1, pollMs: 60_000 } });
    engine.actions.register(counting(calls));
    const pb = playbook('handed-slots', [{ id: 'only', kind: 'action', action: 'test.count', params: {} }]);
    const worker = engine.createWorker('one-slot');
    await worker.start();
    let keyed: { runId: string } | undefined;
    let next: { runId: string } | undefined;
    try {
      keyed = await engine.startRun({ playbook: pb, startKey: 'alert-1' });
      expect(await runsSettled(engine, [keyed.runId])).toEqual(['succeeded']);
      // Adopted: nothing created, nothing handed.
      const again = await engine.startRun({ playbook: pb, startKey: 'alert-1' });
      expect(again.runId).toBe(keyed.runId);
      // Failed inside the transaction, after the slot was reserved.
      failStarts = true;
      await expect(engine.startRun({ playbook: pb })).rejects.toThrow(/run\.started failed \(injected\)/);
      failStarts = false;
      next = await engine.startRun({ playbook: pb });
      expect(await runsSettled(engine, [next.runId])).toEqual(['succeeded']);
    } finally {
      await worker.stop();
    }
    expect(calls).toEqual([keyed!.runId, next!.runId]);
    expect((await claimsOf(registry)).start).toBe(2);
    const runs = await engine.listRuns({});
    expect(runs.length).toBe(2);
  });

  it('a worker stopping while a start holds its slot runs the handed step or leaves it due, never leased to nobody', async () => {
    t = await freshDatabase(kind);
    const calls: string[] = [];
    const registry = new Registry();
    const { db, faults } = faultyDatabase(t.db);
    const engine = testEngine(db, systemClock, { registry, options: { concurrency: 2, pollMs: 60_000 } });
    engine.actions.register(counting(calls));
    const pb = playbook('handed-stop', [{ id: 'only', kind: 'action', action: 'test.count', params: {} }]);
    const worker = engine.createWorker('stopping');
    await worker.start();
    let stopping: Promise<void> | undefined;
    // The slot is reserved before the transaction begins: stop the worker in that window.
    faults.beforeNextTransaction = async () => {
      stopping = worker.stop();
    };
    const { runId } = await engine.startRun({ playbook: pb });
    await stopping;
    const stepRows = await t.db.rows<{ status: string; lease_owner: string | null; due: boolean }>(
      sql`select status, lease_owner, wake_at <= now() + interval '1 second' as due from engine_steps where run_id = ${runId}`,
    );
    expect(stepRows).toHaveLength(1);
    const [row] = stepRows;
    expect(row!.status === 'succeeded' || row!.due).toBe(true);
    // Whatever the stop left, another worker finishes it, and the action ran once.
    const other = engine.createWorker('other');
    await other.start();
    try {
      expect(await runsSettled(engine, [runId])).toEqual(['succeeded']);
    } finally {
      await other.stop();
    }
    expect(calls).toEqual([runId]);
    // A worker that has begun stopping offers no slot: a start then leaves its step ready.
    const handed = (await claimsOf(registry)).start;
    const late = engine.createWorker('late');
    await late.start();
    const lateStop = late.stop();
    const after = await engine.startRun({ playbook: pb });
    await lateStop;
    expect((await claimsOf(registry)).start).toBe(handed);
    const [ready] = await t.db.rows<{ status: string }>(sql`select status from engine_steps where run_id = ${after.runId}`);
    expect(ready!.status).toBe('ready');
  });

  it('a worker never runs more steps at once than its concurrency, whatever mix of claims and handed steps fills it', async () => {
    t = await freshDatabase(kind);
    const registry = new Registry();
    const engine = testEngine(t.db, systemClock, { registry, options: { concurrency: 2, pollMs: 20 } });
    let running = 0;
    let most = 0;
    let ran = 0;
    engine.actions.register(
      defineAction({
        name: 'test.busy',
        changesState: false,
        params: z.strictObject({}),
        async run() {
          most = Math.max(most, ++running);
          ran++;
          await new Promise((r) => setTimeout(r, 5));
          running--;
          return {};
        },
      }),
    );
    const pb = playbook('handed-bound', [{ id: 'only', kind: 'action', action: 'test.busy', params: {} }]);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await engine.startRun({ playbook: pb })).runId);
    const worker = engine.createWorker('bounded');
    await worker.start();
    try {
      // Starts keep arriving while slots free up and claims are in flight.
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          for (let i = 0; i < 15; i++) ids.push((await engine.startRun({ playbook: pb })).runId);
        }),
      );
      expect(await runsSettled(engine, ids, 30_000)).toEqual(ids.map(() => 'succeeded'));
    } finally {
      await worker.stop();
    }
    expect(most).toBeLessThanOrEqual(2);
    // Each run's step ran once (a claim that found its slot taken gave the step back).
    expect(ran).toBe(80);
    const claims = await claimsOf(registry);
    expect(claims.start + claims.poll).toBeGreaterThanOrEqual(80);
  });

  it('a step whose slot dies before it calls the attempt the start began is taken over after its lease: that attempt is repeated, and runs once', async () => {
    t = await freshDatabase(kind);
    const registry = new Registry();
    const clock = new ManualClock('2026-12-02T10:00:00Z');
    const calls: string[] = [];
    const { db, faults } = faultyDatabase(t.db);
    const engine = testEngine(db, clock, { registry, options: { concurrency: 2, pollMs: 20, leaseMs: 30_000 } });
    engine.actions.register(counting(calls));
    // A playbook no test has run: its definition is not cached yet, so the slot reads it first.
    const pb = playbook(`handed-dies-${kind}-${Date.now()}`, [{ id: 'only', kind: 'action', action: 'test.count', params: {} }]);
    const worker = engine.createWorker('dies');
    await worker.start();
    try {
      faults.failSelects = true;
      const { runId } = await engine.startRun({ playbook: pb });
      // The handed step's slot failed reading the definition: as if its process died there.
      for (let i = 0; i < 200 && (await claimsOf(registry)).start === 0; i++) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 100));
      faults.failSelects = false;
      expect(calls).toEqual([]);
      const [leased] = await t.db.rows<{ status: string; attempts: number; lease_owner: string | null }>(
        sql`select status, attempts, lease_owner from engine_steps where run_id = ${runId}`,
      );
      // The start committed the attempt with the claim (src/engine/prestart.ts): it is `running`.
      expect(leased).toMatchObject({ status: 'running', attempts: 1 });
      expect(leased!.lease_owner).toMatch(/^dies\//);
      // Still leased: polls claim nothing.
      await new Promise((r) => setTimeout(r, 100));
      expect(calls).toEqual([]);
      clock.advance(30_001);
      expect(await runsSettled(engine, [runId])).toEqual(['succeeded']);
      expect(calls).toEqual([runId]);
    } finally {
      await worker.stop();
    }
    const claims = await claimsOf(registry);
    expect(claims).toMatchObject({ start: 1, poll: 1 });
    // Not knowing whether the dead slot called it, the new owner repeats attempt 1 under its key.
    const attempts = await t.db.rows<{ attempt: number; status: string; takeovers: number }>(sql`select attempt, status, takeovers from engine_attempts`);
    expect(attempts).toEqual([{ attempt: 1, status: 'succeeded', takeovers: 1 }]);
  });
});
