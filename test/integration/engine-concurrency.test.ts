import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAction } from '../../src/actions/action.js';
import { systemClock } from '../../src/core/clock.js';
import { type Database, openDatabase } from '../../src/db/database.js';
import { freshDatabase, TEST_DATABASE_URL, type TestDatabase } from '../support/databases.js';
import { playbook, testEngine } from './engine-harness.js';

/**
 * Two workers, each with its own connection pool (as two replicas have), share one
 * PostgreSQL database and many runs. A probe action records every execution and how many
 * executions of the same step attempt are in flight at that moment: it must never be two.
 */
describe.skipIf(!TEST_DATABASE_URL)('two workers on one database (PostgreSQL)', () => {
  let t: TestDatabase;
  const extra: Database[] = [];
  afterEach(async () => {
    await Promise.all(extra.splice(0).map((db) => db.close()));
    await t?.dispose();
  });

  it('never execute the same step attempt concurrently, and run every step exactly once', async () => {
    t = await freshDatabase('postgres');
    const inFlight = new Map<string, number>();
    const executions = new Map<string, string[]>();
    let overlaps = 0;
    const probe = defineAction({
      name: 'test.probe',
      changesState: true,
      params: z.strictObject({ n: z.number() }),
      async run(_params, ctx) {
        const now = (inFlight.get(ctx.idempotencyKey) ?? 0) + 1;
        inFlight.set(ctx.idempotencyKey, now);
        if (now > 1) overlaps++;
        executions.set(ctx.idempotencyKey, [...(executions.get(ctx.idempotencyKey) ?? []), ctx.stepKey]);
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 4)));
        inFlight.set(ctx.idempotencyKey, (inFlight.get(ctx.idempotencyKey) ?? 1) - 1);
        return { ok: true };
      },
    });
    const engines = await Promise.all(
      ['A', 'B'].map(async () => {
        const db = await openDatabase({ url: t.url!, poolMax: 6 });
        extra.push(db);
        const engine = testEngine(db, systemClock, { options: { concurrency: 8, pollMs: 200 } });
        engine.actions.register(probe);
        return engine;
      }),
    );
    const pb = playbook('load', [
      { id: 'one', kind: 'action', action: 'test.probe', params: { n: 1 } },
      {
        id: 'fan',
        kind: 'parallel',
        branches: [
          { steps: [{ id: 'left', kind: 'action', action: 'test.probe', params: { n: 2 } }] },
          { steps: [{ id: 'right', kind: 'action', action: 'test.probe', params: { n: 3 } }] },
        ],
      },
      { id: 'last', kind: 'action', action: 'test.probe', params: { n: 4 } },
    ]);
    const runs = 60;
    const workers = engines.map((e, i) => e.createWorker(`worker-${i}`));
    await Promise.all(workers.map((w) => w.start()));
    try {
      const ids: string[] = [];
      for (let i = 0; i < runs; i++) ids.push((await engines[i % 2]!.startRun({ playbook: pb })).runId);
      // Wait for the outcome, not for a time: the deadline only bounds a hung test.
      const deadline = Date.now() + 90_000;
      for (;;) {
        const [row] = await t.db.rows<{ open: number }>(
          sql`select count(*)::int as open from engine_runs where state not in ('succeeded', 'failed', 'compensated', 'compensation_failed', 'cancelled')`,
        );
        if (row!.open === 0 || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
    const states = await t.db.rows<{ state: string; n: number }>(sql`select state, count(*)::int as n from engine_runs group by state`);
    expect(states).toEqual([{ state: 'succeeded', n: runs }]);
    expect(overlaps).toBe(0);
    expect(executions.size).toBe(runs * 4);
    expect([...executions.values()].every((e) => e.length === 1)).toBe(true);
    const perWorker = await t.db.rows<{ worker: string; n: number }>(
      sql`select worker, count(*)::int as n from engine_attempts group by worker order by worker`,
    );
    expect(perWorker.reduce((sum, w) => sum + w.n, 0)).toBe(runs * 4);
    expect(perWorker.map((w) => w.worker)).toEqual(['worker-0', 'worker-1']);
  });
});
