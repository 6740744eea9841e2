import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.js';
import { pipelineOn } from '../../src/db/pipeline.js';
import { resultRows } from '../../src/db/rows.js';
import { createPostgresDatabase, databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';

/**
 * The recording transactions send their writes on a pipeline (src/db/pipeline.ts). These are
 * the properties they rely on: statements run in the order added, a later read sees the earlier
 * writes, and a failed statement fails the whole transaction — never a COMMIT that quietly
 * rolls back while the caller believes its writes landed.
 */
describe.each(databaseKinds)('transaction pipeline (%s)', (kind) => {
  let t: TestDatabase | undefined;
  afterEach(async () => {
    await t?.dispose();
    t = undefined;
  });

  const table = async () => {
    t = await freshDatabase(kind, { migrate: false });
    await t.db.rows(sql`create table pipe_t (id int primary key, v text not null)`);
    return t.db;
  };

  it('runs statements in the order added; a read added after writes sees them', async () => {
    const db = await table();
    const seen = await db.orm.transaction(async (tx) => {
      const pl = pipelineOn(tx);
      for (let i = 1; i <= 20; i++) void pl.add(sql`insert into pipe_t (id, v) values (${i}, ${`v${i}`})`);
      void pl.add(sql`update pipe_t set v = v || '!' where id % 2 = 0`);
      void pl.add(sql`delete from pipe_t where id > 15`);
      const read = pl.add<{ id: number; v: string }>(sql`select id, v from pipe_t order by id`);
      await pl.settled();
      return read;
    });
    expect(seen.map((r) => `${r.id}:${r.v}`)).toEqual(Array.from({ length: 15 }, (_, k) => `${k + 1}:v${k + 1}${(k + 1) % 2 === 0 ? '!' : ''}`));
    const [count] = await db.rows<{ n: number }>(sql`select count(*)::int as n from pipe_t`);
    expect(count!.n).toBe(15);
  });

  it('a failed statement rejects settled() and rolls the whole transaction back', async () => {
    const db = await table();
    await db.rows(sql`insert into pipe_t (id, v) values (1, 'before')`);
    const attempt = db.orm.transaction(async (tx) => {
      const pl = pipelineOn(tx);
      void pl.add(sql`update pipe_t set v = 'changed' where id = 1`);
      void pl.add(sql`insert into pipe_t (id, v) values (2, 'new')`);
      void pl.add(sql`insert into pipe_t (id, v) values (1, 'duplicate key')`); // fails
      void pl.add(sql`insert into pipe_t (id, v) values (3, 'after the failure')`);
      await pl.settled();
    });
    await expect(attempt).rejects.toThrow(/duplicate key|unique/i);
    const rows = await db.rows<{ id: number; v: string }>(sql`select id, v from pipe_t order by id`);
    expect(rows).toEqual([{ id: 1, v: 'before' }]);
  });

  it('work tracked on the pipeline that adds statements later is awaited by settled()', async () => {
    const db = await table();
    await db.orm.transaction(async (tx) => {
      const pl = pipelineOn(tx);
      pl.track(
        (async () => {
          const [row] = await pl.add<{ n: number }>(sql`select 41 as n`);
          await pl.add(sql`insert into pipe_t (id, v) values (${row!.n + 1}, 'late')`);
        })(),
      );
      await pl.settled();
    });
    expect(await db.rows(sql`select id, v from pipe_t`)).toEqual([{ id: 42, v: 'late' }]);
  });
});

describe.runIf(databaseKinds.includes('postgres'))('prepared statements (postgres)', () => {
  it('drizzle queries run prepared, in and out of transactions; DATABASE_PREPARE=false turns it off', async () => {
    const { url, drop } = await createPostgresDatabase();
    const preparedIn = async (prepare: boolean) => {
      const db = await openDatabase({ url, poolMax: 1, prepare });
      try {
        // One connection: the statements the session prepared are visible in pg_prepared_statements.
        await db.orm.transaction(async (tx) => {
          await tx.execute(sql`select ${1}::int as one`);
        });
        await db.orm.execute(sql`select ${'x'}::text as two`);
        const rows = resultRows<{ statement: string }>(await db.orm.execute(sql`select statement from pg_prepared_statements`));
        return rows.map((r) => r.statement);
      } finally {
        await db.close();
      }
    };
    try {
      const on = await preparedIn(true);
      expect(on.some((s) => s.includes('::int as one'))).toBe(true);
      expect(on.some((s) => s.includes('::text as two'))).toBe(true);
      expect((await preparedIn(false)).filter((s) => s.includes(' as one') || s.includes(' as two'))).toEqual([]);
    } finally {
      await drop();
    }
  });
});
