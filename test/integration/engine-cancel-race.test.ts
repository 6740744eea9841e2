import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAction } from '../../src/actions/action.js';
import { createAuditTrail } from '../../src/audit/trail.js';
import { systemClock } from '../../src/core/clock.js';
import { type Database, openDatabase } from '../../src/db/database.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';
import { playbook, testEngine } from './engine-harness.js';

/**
 * Cancels racing a worker at every stage (found by an attack on the pipelined recording of
 * 67a78c8): a cancel whose step update waited on an attempt start's row lock closed the
 * attempts in the same statement, whose snapshot could not see the attempt row just committed,
 * so the attempt stayed `running` for ever. Each run is cancelled 0–40 ms after its start.
 */
const RUNS = 30;

describe.each(databaseKinds)('cancel racing attempt starts and completions on %s', (kind) => {
  let t: TestDatabase;
  const extra: Database[] = [];
  afterEach(async () => {
    await Promise.all(extra.splice(0).map((db) => db.close()));
    await t?.dispose();
  });

  it('a cancelled run stays cancelled, nothing runs after it, and no attempt is left running', async () => {
    t = await freshDatabase(kind);
    const act = defineAction({
      name: 'test.act',
      changesState: true,
      params: z.strictObject({ n: z.string() }),
      async run() {
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 5));
        return { ok: true };
      },
    });
    const pb = playbook('c', [
      { id: 'a', kind: 'action', action: 'test.act', params: { n: 'a' } },
      {
        id: 'fan',
        kind: 'parallel',
        branches: [
          { steps: [{ id: 'l', kind: 'action', action: 'test.act', params: { n: 'l' } }] },
          { steps: [{ id: 'r', kind: 'action', action: 'test.act', params: { n: 'r' } }] },
        ],
      },
      { id: 'z', kind: 'action', action: 'test.act', params: { n: 'z' } },
    ]);
    const db = kind === 'postgres' ? await openDatabase({ url: t.url!, poolMax: 4 }) : t.db;
    if (kind === 'postgres') extra.push(db);
    const audit = createAuditTrail(db, systemClock);
    const engine = testEngine(db, systemClock, { audit, options: { concurrency: 6, pollMs: 50 } });
    engine.actions.register(act);
    const canceller = kind === 'postgres' ? testEngine(t.db, systemClock) : engine;
    const worker = engine.createWorker('w');
    await worker.start();
    const ids: string[] = [];
    const cancels: Array<Promise<unknown>> = [];
    try {
      for (let i = 0; i < RUNS; i++) {
        const { runId } = await engine.startRun({ playbook: pb });
        ids.push(runId);
        cancels.push(
          (async () => {
            await new Promise((r) => setTimeout(r, Math.random() * 40));
            return canceller.cancel(runId, { type: 'user', id: 'op' }, 'race').catch((e: Error) => e.message);
          })(),
        );
      }
      await Promise.all(cancels);
      const deadline = Date.now() + 20_000;
      for (;;) {
        const [row] = await t.db.rows<{ open: number }>(sql`select count(*)::int as open from engine_runs where state not in ('succeeded', 'failed', 'cancelled', 'compensated')`);
        if (row!.open === 0 || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await worker.stop();
    }
    const problems: string[] = [];
    const bad = await t.db.rows(sql`select r.id, r.state, s.step_key, s.status from engine_runs r join engine_steps s on s.run_id = r.id
      where (r.state = 'cancelled' and s.status in ('ready', 'running', 'pending', 'waiting', 'retry_wait')) or r.state not in ('cancelled', 'succeeded')`);
    if (bad.length) problems.push(`open steps: ${JSON.stringify(bad)}`);
    const att = await t.db.rows(sql`select count(*)::int as n from engine_attempts where status = 'running'`);
    if ((att[0] as { n: number }).n) problems.push(`attempts running ${JSON.stringify(await t.db.rows(sql`select a.attempt, a.status as attempt_status, a.started_at, s.step_key, s.status as step_status, s.ended_at as step_ended, r.state from engine_attempts a join engine_steps s on s.id = a.step_id join engine_runs r on r.id = a.run_id where a.status = 'running'`))}`);
    // Nothing started after the cancel committed: no attempt of a cancelled run began after its ended_at.
    const late = await t.db.rows(sql`select r.id, a.started_at, r.ended_at, a.status from engine_runs r join engine_attempts a on a.run_id = r.id where r.state = 'cancelled' and a.started_at > r.ended_at and a.status <> 'cancelled'`);
    if (late.length) problems.push(`attempts after cancel: ${JSON.stringify(late)}`);
    const v = await audit.verify();
    if (!v.ok) problems.push(`verify ${JSON.stringify(v)}`);
    const entries = await audit.page({ limit: 100_000 });
    for (const id of ids) {
      const mine = entries.filter((e) => (e.subject.type === 'run' && e.subject.id === id) || (e.data as { run?: string } | null)?.run === id).map((e) => e.action);
      const at = mine.indexOf('run.cancelled');
      if (at >= 0 && mine.slice(at + 1).some((a) => a === 'step.succeeded' || a === 'step.created')) problems.push(`${id}: after cancel ${mine}`);
    }
    expect(problems).toEqual([]);
  }, 90_000);
});
