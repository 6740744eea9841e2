import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditTrail } from '../../src/audit/trail.js';
import { ManualClock, systemClock } from '../../src/core/clock.js';
import { databaseKinds, freshDatabase, TEST_DATABASE_URL, type TestDatabase } from '../support/databases.js';

const system = { type: 'system', id: 'test' } as const;

describe.each(databaseKinds)('audit trail on %s', (kind) => {
  let t: TestDatabase;
  afterEach(async () => t?.dispose());

  it('appends a hash-chained trail that verifies, and pages through it', async () => {
    t = await freshDatabase(kind);
    const audit = createAuditTrail(t.db, new ManualClock('2026-03-01T10:00:00.123Z'));
    for (let i = 0; i < 25; i++) {
      await audit.append({
        actor: system,
        action: 'test.step',
        subject: { type: 'run', id: `r${i}` },
        data: { i, nested: { b: 1, a: [1, 'x'] } },
        correlationId: 'c1',
      });
    }
    expect(await audit.verify({ batchSize: 7 })).toMatchObject({ ok: true, count: 25, lastSeq: 25 });
    const first = await audit.page({ after: 0, limit: 10 });
    expect(first.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(first[1]!.prevHash).toBe(first[0]!.hash);
    expect(first[0]!.data).toEqual({ i: 0, nested: { b: 1, a: [1, 'x'] } });
    expect((await audit.page({ after: 20, limit: 10 })).map((e) => e.seq)).toEqual([21, 22, 23, 24, 25]);
  });

  it('rejects UPDATE, DELETE and TRUNCATE through the application connection', async () => {
    t = await freshDatabase(kind);
    const audit = createAuditTrail(t.db, systemClock);
    await audit.append({ actor: system, action: 'a', subject: { type: 's', id: '1' } });
    await audit.flush();
    await expect(t.db.rows(sql`update audit_events set action = 'forged'`)).rejects.toThrow();
    await expect(t.db.rows(sql`delete from audit_events`)).rejects.toThrow();
    await expect(t.db.rows(sql`truncate audit_events`)).rejects.toThrow();
    expect(await audit.verify()).toMatchObject({ ok: true, count: 1 });
  });

  it('names the first altered entry when a row is changed behind the trigger', async () => {
    t = await freshDatabase(kind);
    const audit = createAuditTrail(t.db, systemClock);
    for (let i = 0; i < 5; i++) await audit.append({ actor: system, action: 'a', subject: { type: 's', id: String(i) }, data: { i } });
    await audit.flush();
    await t.db.rows(sql`alter table audit_events disable trigger audit_events_no_update_delete`);
    await t.db.rows(sql`update audit_events set data = '{"i": 99}' where seq = 3`);
    expect(await audit.verify()).toEqual({ ok: false, count: 2, broken: { kind: 'hash_mismatch', seq: 3 } });
    await t.db.rows(sql`delete from audit_events where seq = 3`);
    expect(await audit.verify()).toEqual({ ok: false, count: 2, broken: { kind: 'gap', seq: 4, expected: 3 } });
  });
});

describe.skipIf(!TEST_DATABASE_URL)('audit trail under concurrency (PostgreSQL)', () => {
  let t: TestDatabase;
  afterEach(async () => t?.dispose());

  it('1,000 appends from 10 concurrent writers form one unbroken chain', async () => {
    t = await freshDatabase('postgres');
    // Ten independent connections, as ten replicas would have.
    const { openDatabase } = await import('../../src/db/database.js');
    const writers = await Promise.all(Array.from({ length: 10 }, () => openDatabase({ url: t.url!, poolMax: 2 })));
    try {
      await Promise.all(
        writers.map(async (db, w) => {
          const audit = createAuditTrail(db, systemClock);
          for (let i = 0; i < 100; i++)
            await audit.append({ actor: system, action: 'load', subject: { type: 'writer', id: String(w) }, data: { i } });
        }),
      );
    } finally {
      await Promise.all(writers.map((db) => db.close()));
    }
    const audit = createAuditTrail(t.db, systemClock);
    expect(await audit.verify()).toMatchObject({ ok: true, count: 1000, lastSeq: 1000 });
    const sqlClient = postgres(t.url!, { max: 1 });
    const [row] = await sqlClient`select count(distinct subject_id)::int as writers from audit_events`;
    await sqlClient.end();
    expect(row?.writers).toBe(10);
  });
});
