import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAction } from '../../src/actions/action.js';
import { systemClock } from '../../src/core/clock.js';
import { type Database, openDatabase } from '../../src/db/database.js';
import { withPreparedStatements } from '../../src/db/prepared.js';
import { freshDatabase, TEST_DATABASE_URL, type TestDatabase } from '../support/databases.js';
import { playbook, testEngine } from './engine-harness.js';

/**
 * Prepared statements (src/db/prepared.ts) attacked, on one pooled connection so the session's
 * pg_prepared_statements shows everything (holes found by an attack on 67a78c8): the switch
 * really switches them off, the number of texts prepared per connection is capped, and a
 * migration that changes a returned column's type mid-flight costs a retry, not a failed
 * transaction.
 */
describe.skipIf(!TEST_DATABASE_URL)('prepared statements (PostgreSQL)', () => {
  let t: TestDatabase;
  const extra: Database[] = [];
  afterEach(async () => {
    await Promise.all(extra.splice(0).map((db) => db.close()));
    await t?.dispose();
  });

  const quick = defineAction({ name: 'test.quick', changesState: false, params: z.strictObject({}), async run() { return { ok: true }; } });
  const twoSteps = playbook('p', [
    { id: 'a', kind: 'action', action: 'test.quick', params: {} },
    { id: 'b', kind: 'action', action: 'test.quick', params: {} },
  ]);

  it('DATABASE_PREPARE=false leaves no prepared statement on the connection, recording transactions included', async () => {
    t = await freshDatabase('postgres');
    const db = await openDatabase({ url: t.url!, poolMax: 1, prepare: false });
    extra.push(db);
    const engine = testEngine(db, systemClock);
    engine.actions.register(quick);
    const { runId } = await engine.startRun({ playbook: twoSteps });
    await engine.createWorker().drain();
    expect((await engine.getRun(runId))!.state).toBe('succeeded');
    const prepared = await db.rows<{ statement: string }>(sql`select statement from pg_prepared_statements`);
    expect(prepared.map((p) => p.statement.slice(0, 80))).toEqual([]);
  });

  it('with it on, the engine runs prepared; only the first texts up to the cap are prepared', async () => {
    t = await freshDatabase('postgres');
    const db = await openDatabase({ url: t.url!, poolMax: 1 });
    extra.push(db);
    const engine = testEngine(db, systemClock);
    engine.actions.register(quick);
    await engine.startRun({ playbook: twoSteps });
    await engine.createWorker().drain();
    const prepared = await db.rows<{ statement: string }>(sql`select statement from pg_prepared_statements`);
    expect(prepared.some((p) => /for update of r, s/.test(p.statement))).toBe(true);

    const client = postgres(t.url!, { max: 1, onnotice: () => {} });
    try {
      const capped = withPreparedStatements(client, 3);
      for (let n = 1; n <= 6; n++) await capped.unsafe(`select ${Array.from({ length: n }, (_, i) => `$${i + 1}::int`).join(', ')}`, Array.from({ length: n }, (_, i) => i));
      const count = await client.unsafe(`select count(*)::int as n from pg_prepared_statements where statement like 'select $1::int%'`);
      expect(count[0]!.n).toBe(3);
    } finally {
      await client.end();
    }
  });

  for (const prepare of [true, false]) {
    it(`a migration changing a returned column's type does not fail a transaction (prepare=${prepare})`, async () => {
      t = await freshDatabase('postgres');
      const db = await openDatabase({ url: t.url!, poolMax: 1, prepare });
      extra.push(db);
      const engine = testEngine(db, systemClock);
      const pb = playbook('p', [{ id: 'w', kind: 'wait', duration: '1h' }]);
      const a = await engine.startRun({ playbook: pb });
      const b = await engine.startRun({ playbook: pb });
      await engine.cancel(a.runId, { type: 'user', id: 'alice' }, 'first'); // prepares the statements on the only connection
      const admin = postgres(t.url!, { max: 1, onnotice: () => {} });
      await admin.unsafe(`alter table engine_runs alter column ended_at set data type timestamp(3) with time zone`);
      await admin.end();
      await engine.cancel(b.runId, { type: 'user', id: 'alice' }, 'second');
      const [row] = await db.rows<{ state: string }>(sql`select state from engine_runs where id = ${b.runId}`);
      expect(row!.state).toBe('cancelled');
    });
  }
});
