import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditTrail } from '../../src/audit/trail.js';
import { ManualClock } from '../../src/core/clock.js';
import type { Database } from '../../src/db/database.js';
import { migrationsFolder } from '../../src/db/migrate.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';

/**
 * The hash covers an entry's time in milliseconds (`toISOString`), so the stored time must not
 * hold more: with microseconds, an edit of less than a millisecond changed the record and left
 * the hash valid. Attacks: such an edit on a current trail, and a trail written before the
 * column kept milliseconds (sub-millisecond times stored, hashed truncated) that must still
 * verify once migrated.
 */
const system = { type: 'system', id: 'test' } as const;
const AT = '2026-03-01T10:00:00.123Z';

/** As someone able to bypass the append-only trigger (a superuser, the owner role) would. */
async function behindTheTrigger(db: Database, statement: ReturnType<typeof sql>): Promise<void> {
  await db.rows(sql`alter table audit_events disable trigger audit_events_no_update_delete`);
  await db.rows(statement);
  await db.rows(sql`alter table audit_events enable trigger audit_events_no_update_delete`);
}

const microseconds = async (db: Database) =>
  (await db.rows<{ seq: number; us: number }>(sql`select seq::int, (extract(microseconds from at)::int % 1000000) as us from audit_events order by seq`)).map(
    (r) => [r.seq, Number(r.us)],
  );

/** Applies the migrations up to and including `last` only (the schema a release before the change had). */
async function migrateUpTo(t: TestDatabase, last: string): Promise<void> {
  const folder = mkdtempSync(join(tmpdir(), 'quench-migrations-'));
  try {
    cpSync(migrationsFolder, folder, { recursive: true });
    const journalPath = join(folder, 'meta/_journal.json');
    const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: Array<{ tag: string }> };
    const end = journal.entries.findIndex((e) => e.tag === last);
    expect(end).toBeGreaterThanOrEqual(0);
    journal.entries = journal.entries.slice(0, end + 1);
    writeFileSync(journalPath, JSON.stringify(journal));
    if (t.db.kind === 'pglite') {
      await migratePglite(t.db.orm as never, { migrationsFolder: folder });
    } else {
      const client = postgres(t.url!, { max: 1, onnotice: () => {} });
      await migratePostgres(drizzlePostgres(client), { migrationsFolder: folder });
      await client.end();
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

describe.each(databaseKinds)('audit times in milliseconds on %s', (kind) => {
  let t: TestDatabase;
  afterEach(async () => t?.dispose());

  it('an edit of an entry time by less than a millisecond is caught (or cannot be stored)', async () => {
    t = await freshDatabase(kind);
    const audit = createAuditTrail(t.db, new ManualClock(AT));
    for (let i = 0; i < 3; i++) await audit.append({ actor: system, action: 'test.entry', subject: { type: 'n', id: String(i) }, data: { i } });
    expect(await audit.verify()).toMatchObject({ ok: true, count: 3 });
    // 0.4 ms later: the column keeps milliseconds, so the stored time is unchanged.
    await behindTheTrigger(t.db, sql`update audit_events set at = at + interval '400 microseconds' where seq = 2`);
    expect(await microseconds(t.db)).toEqual([
      [1, 123_000],
      [2, 123_000],
      [3, 123_000],
    ]);
    // 0.6 ms later: stored as the next millisecond, which the hash does not cover.
    await behindTheTrigger(t.db, sql`update audit_events set at = at + interval '600 microseconds' where seq = 2`);
    expect(await audit.verify()).toEqual({ ok: false, count: 1, broken: { kind: 'hash_mismatch', seq: 2 } });
  });

  it('entries stored with microseconds before the change still verify after it, truncated as their hash was', async () => {
    t = await freshDatabase(kind, { migrate: false });
    await migrateUpTo(t, '0018_run_starter_aliases');
    const audit = createAuditTrail(t.db, new ManualClock(AT));
    for (let i = 0; i < 4; i++) await audit.append({ actor: system, action: 'test.entry', subject: { type: 'n', id: String(i) }, data: { i } });
    await audit.flush();
    // Times with microseconds (as a row written by hand, or an outbox row before migration 0016,
    // could hold): the hash covers them truncated to the millisecond, as drivers read them.
    await behindTheTrigger(t.db, sql`update audit_events set at = at + (case seq when 2 then 999 when 3 then 500 when 4 then 1 else 0 end) * interval '1 microsecond'`);
    expect(await microseconds(t.db)).toEqual([
      [1, 123_000],
      [2, 123_999],
      [3, 123_500],
      [4, 123_001],
    ]);
    expect(await audit.verify()).toMatchObject({ ok: true, count: 4 });

    await t.db.migrate();
    // Rounding would have made .123999 and .123500 into .124 and broken their hashes.
    expect(await microseconds(t.db)).toEqual([
      [1, 123_000],
      [2, 123_000],
      [3, 123_000],
      [4, 123_000],
    ]);
    expect(await audit.verify()).toMatchObject({ ok: true, count: 4 });
    await audit.append({ actor: system, action: 'test.entry', subject: { type: 'n', id: 'after' } });
    expect(await audit.verify()).toMatchObject({ ok: true, count: 5 });
  });
});
