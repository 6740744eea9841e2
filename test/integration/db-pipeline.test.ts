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

  it('a transaction that ends at queued() commits every statement; their answers are there after it', async () => {
    const db = await table();
    let pl: ReturnType<typeof pipelineOn> | undefined;
    const reads = await db.orm.transaction(async (tx) => {
      pl = pipelineOn(tx);
      for (let i = 1; i <= 5; i++) void pl.add(sql`insert into pipe_t (id, v) values (${i}, 'x')`);
      const read = pl.add<{ n: number }>(sql`select count(*)::int as n from pipe_t`);
      await pl.queued();
      return read;
    });
    await pl!.settled();
    expect(await reads).toEqual([{ n: 5 }]);
    expect((await db.rows<{ n: number }>(sql`select count(*)::int as n from pipe_t`))[0]!.n).toBe(5);
  });

  it('a statement that fails after queued() fails the transaction and nothing of it is stored (never a COMMIT that was a ROLLBACK)', async () => {
    const db = await table();
    await db.rows(sql`insert into pipe_t (id, v) values (1, 'before')`);
    let pl: ReturnType<typeof pipelineOn> | undefined;
    const attempt = db.orm.transaction(async (tx) => {
      pl = pipelineOn(tx);
      void pl.add(sql`update pipe_t set v = 'changed' where id = 1`);
      void pl.add(sql`insert into pipe_t (id, v) values (2, 'new')`);
      void pl.add(sql`insert into pipe_t (id, v) values (1, 'duplicate key')`); // fails, its answer not awaited
      await pl.queued();
    });
    await expect(attempt).rejects.toThrow(/duplicate key|unique/i);
    await expect(pl!.settled()).rejects.toThrow(/duplicate key|unique/i);
    expect(await db.rows(sql`select id, v from pipe_t order by id`)).toEqual([{ id: 1, v: 'before' }]);
  });

  it('queued() waits until tracked work has added its last statement (a statement after a read of its own), not for its answer', async () => {
    const db = await table();
    let pl: ReturnType<typeof pipelineOn> | undefined;
    await db.orm.transaction(async (tx) => {
      pl = pipelineOn(tx);
      let added!: () => void;
      const addedAll = new Promise<void>((resolve) => (added = resolve));
      pl.track(
        (async () => {
          const [row] = await pl!.add<{ n: number }>(sql`select 41 as n`);
          const insert = pl!.add(sql`insert into pipe_t (id, v) values (${row!.n + 1}, 'late')`);
          added();
          await insert;
        })(),
        addedAll,
      );
      await pl.queued();
    });
    await pl!.settled();
    expect(await db.rows(sql`select id, v from pipe_t`)).toEqual([{ id: 42, v: 'late' }]);
  });

  it('tracked work that fails before adding its statement fails queued(): no COMMIT without what it was to add', async () => {
    const db = await table();
    const attempt = db.orm.transaction(async (tx) => {
      const pl = pipelineOn(tx);
      void pl.add(sql`insert into pipe_t (id, v) values (1, 'x')`);
      pl.track(Promise.reject(new Error('the append could not start')), new Promise(() => {}));
      await pl.queued();
    });
    await expect(attempt).rejects.toThrow(/could not start/);
    expect(await db.rows(sql`select id from pipe_t`)).toEqual([]);
  });
});

/**
 * The patched driver (scripts/patch-postgres.mjs) sends a transaction's first statements behind
 * BEGIN without waiting for its answer, and COMMIT behind statements whose answers are not in.
 * Each statement must still run inside the transaction, and a failure must never be reported
 * as a commit.
 */
describe.runIf(databaseKinds.includes('postgres'))('transactions on the patched driver (postgres)', () => {
  const withDb = async (poolMax: number, fn: (db: Awaited<ReturnType<typeof openDatabase>>) => Promise<void>) => {
    const { url, drop } = await createPostgresDatabase();
    const db = await openDatabase({ url, poolMax });
    try {
      await db.rows(sql`create table pipe_t (id int primary key, v text not null)`);
      await fn(db);
    } finally {
      await db.close();
      await drop();
    }
  };

  it('statements sent behind BEGIN are inside the transaction: a rollback takes them back', async () => {
    await withDb(2, async (db) => {
      const attempt = db.orm.transaction(async (tx) => {
        const pl = pipelineOn(tx);
        void pl.add(sql`insert into pipe_t (id, v) values (1, 'behind begin')`);
        const [xact] = await pl.add<{ inside: boolean }>(sql`select txid_current_if_assigned() is not null as inside`);
        expect(xact!.inside).toBe(true);
        throw new Error('changed my mind');
      });
      await expect(attempt).rejects.toThrow(/changed my mind/);
      expect(await db.rows(sql`select id from pipe_t`)).toEqual([]);
    });
  });

  it('with every connection busy, a transaction waits for one and still runs whole (the BEGIN that had to queue)', async () => {
    await withDb(1, async (db) => {
      const busy = db.rows(sql`select pg_sleep(0.3)`);
      const tx = db.orm.transaction(async (t) => {
        const pl = pipelineOn(t);
        void pl.add(sql`insert into pipe_t (id, v) values (1, 'a')`);
        void pl.add(sql`insert into pipe_t (id, v) values (2, 'b')`);
        await pl.queued();
      });
      await Promise.all([busy, tx]);
      expect(await db.rows(sql`select id from pipe_t order by id`)).toEqual([{ id: 1 }, { id: 2 }]);
    });
  });

  it('concurrent transactions on a small pool never mix statements (each one commits all or nothing of its own)', async () => {
    await withDb(3, async (db) => {
      const outcomes = await Promise.allSettled(
        Array.from({ length: 40 }, (_, i) =>
          db.orm.transaction(async (tx) => {
            const pl = pipelineOn(tx);
            void pl.add(sql`insert into pipe_t (id, v) values (${i * 10 + 1}, ${`t${i}`})`);
            void pl.add(sql`insert into pipe_t (id, v) values (${i * 10 + 2}, ${`t${i}`})`);
            // Every third transaction fails at its last statement, after queued().
            if (i % 3 === 0) void pl.add(sql`insert into pipe_t (id, v) values (${i * 10 + 1}, 'duplicate')`);
            await pl.queued();
          }),
        ),
      );
      const rows = await db.rows<{ id: number; v: string }>(sql`select id, v from pipe_t order by id`);
      const expected = Array.from({ length: 40 }, (_, i) => i).filter((i) => i % 3 !== 0);
      expect(outcomes.map((o) => o.status)).toEqual(Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? 'rejected' : 'fulfilled')));
      expect(rows).toEqual(expected.flatMap((i) => [{ id: i * 10 + 1, v: `t${i}` }, { id: i * 10 + 2, v: `t${i}` }]));
    });
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
