import { sql } from 'drizzle-orm';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAction } from '../../src/actions/action.js';
import { systemClock } from '../../src/core/clock.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';
import { playbook, testEngine } from './engine-harness.js';

/**
 * Group commit of step results (src/engine/result-batch.ts) attacked: results that arrive
 * together are committed together, yet each is applied as if alone — a failing one does not
 * take the others down, two results of one run never plan on each other's stale view, a lost
 * claim records nothing — and the audit chain keeps per-run transition order.
 */

/** An action that holds every caller until `n` of them are inside, then lets them all answer at once. */
function barrierAction(n: number, onFull?: () => Promise<void>) {
  let waiting: Array<() => void> = [];
  return defineAction({
    name: 'test.barrier',
    changesState: false,
    params: z.strictObject({ tag: z.string() }),
    async run(params) {
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (waiting.length === n) {
          const all = waiting;
          waiting = [];
          void (onFull ?? (async () => {}))().then(() => all.forEach((r) => r()));
        }
      });
      return { tag: params.tag };
    },
  });
}

async function waitForRuns(t: TestDatabase, n: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const [row] = await t.db.rows<{ done: number }>(
      sql`select count(*)::int as done from engine_runs where state in ('succeeded', 'failed', 'compensated', 'cancelled')`,
    );
    if (row!.done >= n) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('runs did not finish');
}

/** Starts `n` runs of `pb`, runs a worker until all of them ended, and returns their ids. */
async function runToEnd(t: TestDatabase, engine: ReturnType<typeof testEngine>, pb: ReturnType<typeof playbook>, n: number, before?: (ids: string[]) => void): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await engine.startRun({ playbook: pb })).runId);
  before?.(ids);
  const worker = engine.createWorker('batcher');
  await worker.start();
  try {
    await waitForRuns(t, n);
  } finally {
    await worker.stop();
  }
  return ids;
}

async function batchSizes(registry: Registry): Promise<{ count: number; sum: number }> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === 'quench_engine_result_batch_size') as unknown as {
    values: Array<{ metricName: string; value: number }>;
  };
  const value = (name: string) => metric.values.find((v) => v.metricName === name)?.value ?? 0;
  return { count: value('quench_engine_result_batch_size_count'), sum: value('quench_engine_result_batch_size_sum') };
}

describe.each(databaseKinds)('step results committed in batches (%s)', (kind) => {
  let t: TestDatabase;
  afterEach(async () => {
    await t?.dispose();
  });

  it('results that arrive together share a transaction; every run ends right and the chain verifies', async () => {
    t = await freshDatabase(kind);
    const registry = new Registry();
    const engine = testEngine(t.db, systemClock, { registry, options: { concurrency: 6, pollMs: 50 } });
    engine.actions.register(barrierAction(6));
    const pb = playbook('batched', [
      { id: 'meet', kind: 'action', action: 'test.barrier', params: { tag: '${{ run.id }}' } },
      { id: 'after', kind: 'action', action: 'log', params: { message: 'after' } },
    ]);
    const ids = await runToEnd(t, engine, pb, 6);
    for (const id of ids) {
      const run = (await engine.getRun(id))!;
      expect(run.state).toBe('succeeded');
      expect(run.steps.map((s) => [s.key, s.status, s.output])).toEqual([
        ['meet', 'succeeded', { tag: id }],
        ['after', 'succeeded', { message: 'after' }],
      ]);
    }
    // Six results released at once: fewer transactions than results.
    const sizes = await batchSizes(registry);
    expect(sizes.sum).toBe(12);
    expect(sizes.count).toBeLessThan(12);
    const audit = await engineAudit(t);
    expect(audit.ok).toBe(true);
    for (const id of ids) expect(auditOrder(audit.entries, id)).toEqual(['run.started', 'run.running', 'step.created', 'step.succeeded', 'step.created', 'step.succeeded', 'run.succeeded']);
  });

  it('a result that cannot be recorded in the batch is recorded alone; the others commit', async () => {
    t = await freshDatabase(kind);
    const registry = new Registry();
    let victim = '';
    // While all three are held, one run's snapshot is altered: its result must fail that run only.
    const engine = testEngine(t.db, systemClock, { registry, options: { concurrency: 3, pollMs: 50 } });
    engine.actions.register(
      barrierAction(3, async () => {
        await t.db.rows(sql`update engine_runs set definition = jsonb_set(definition, '{metadata,owner}', '"forged"') where id = ${victim}`);
      }),
    );
    const pb = playbook('one-bad', [{ id: 'meet', kind: 'action', action: 'test.barrier', params: { tag: 'x' } }]);
    const ids = await runToEnd(t, engine, pb, 3, (started) => {
      victim = started[1]!;
    });
    const states = await Promise.all(ids.map(async (id) => (await engine.getRun(id))!.state));
    expect(states).toEqual(['succeeded', 'failed', 'succeeded']);
    expect((await engine.getRun(victim))!.steps[0]!.error).toMatchObject({ code: 'snapshot_invalid' });
  });

  it('a result whose claim was taken over while it ran records nothing; the results beside it commit', async () => {
    t = await freshDatabase(kind);
    let victim = '';
    // While all three are held, another worker takes one step over (a new claim token).
    const engine = testEngine(t.db, systemClock, { options: { concurrency: 3, pollMs: 50 } });
    engine.actions.register(
      barrierAction(3, async () => {
        await t.db.rows(sql`update engine_steps set lease_owner = 'thief/1', wake_at = now() + interval '1 hour' where run_id = ${victim}`);
      }),
    );
    const pb = playbook('fenced', [{ id: 'meet', kind: 'action', action: 'test.barrier', params: { tag: 'x' } }]);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await engine.startRun({ playbook: pb })).runId);
    victim = ids[1]!;
    const worker = engine.createWorker('batcher');
    await worker.start();
    try {
      await waitForRuns(t, 2);
    } finally {
      await worker.stop(); // waits for the victim's attempt to finish and try to record
    }
    const states = await Promise.all(ids.map(async (id) => (await engine.getRun(id))!.state));
    expect(states).toEqual(['succeeded', 'running', 'succeeded']);
    const [step] = await t.db.rows<{ status: string; lease_owner: string; output: unknown }>(
      sql`select status, lease_owner, output from engine_steps where run_id = ${victim}`,
    );
    expect(step).toEqual({ status: 'running', lease_owner: 'thief/1', output: null });
    const audit = await engineAudit(t);
    expect(audit.ok).toBe(true);
    expect(auditOrder(audit.entries, victim)).not.toContain('step.succeeded');
  });

  it('two branches of one run finishing together: the join fires once, after both', async () => {
    t = await freshDatabase(kind);
    const engine = testEngine(t.db, systemClock, { options: { concurrency: 4, pollMs: 50 } });
    engine.actions.register(barrierAction(4));
    const pb = playbook('fan', [
      {
        id: 'fan',
        kind: 'parallel',
        branches: [
          { steps: [{ id: 'left', kind: 'action', action: 'test.barrier', params: { tag: 'l' } }] },
          { steps: [{ id: 'right', kind: 'action', action: 'test.barrier', params: { tag: 'r' } }] },
        ],
      },
      { id: 'join', kind: 'action', action: 'log', params: { message: 'joined' } },
    ]);
    const ids = await runToEnd(t, engine, pb, 2);
    for (const id of ids) {
      const run = (await engine.getRun(id))!;
      expect(run.state).toBe('succeeded');
      const byKey = Object.fromEntries(run.steps.map((s) => [s.key, s]));
      expect(Object.keys(byKey).sort()).toEqual(['fan', 'join', 'left', 'right']);
      expect(byKey.join!.status).toBe('succeeded');
      // Completion order: both branches, then the parallel step, then the join.
      const order = (
        await t.db.rows<{ step_key: string }>(sql`select step_key from engine_steps where run_id = ${id} and completed_seq is not null order by completed_seq`)
      ).map((r) => r.step_key);
      expect(order.slice(2)).toEqual(['fan', 'join']);
      expect(order.slice(0, 2).sort()).toEqual(['left', 'right']);
    }
    expect((await engineAudit(t)).ok).toBe(true);
  });
});

async function engineAudit(t: TestDatabase) {
  const { createAuditTrail } = await import('../../src/audit/trail.js');
  const trail = createAuditTrail(t.db, systemClock);
  const result = await trail.verify();
  const entries = await trail.page({ limit: 10_000 });
  return { ok: result.ok, entries };
}

/** The actions of the audit entries about one run (its own and its steps'), in chain order. */
function auditOrder(entries: Array<{ action: string; subject: { type: string; id: string }; data: unknown }>, runId: string): string[] {
  return entries
    .filter((e) => (e.subject.type === 'run' && e.subject.id === runId) || (e.data as { run?: string } | null)?.run === runId)
    .map((e) => e.action);
}
