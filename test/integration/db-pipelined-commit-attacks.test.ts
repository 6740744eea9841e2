import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/db/database.js';
import { pipelinedTransaction, pipelineOn } from '../../src/db/pipeline.js';
import { createPostgresDatabase, databaseKinds } from '../support/databases.js';

/**
 * Attacks on the pipelined COMMIT (src/db/pipeline.ts pipelinedTransaction) and the patched
 * postgres.js begin() (scripts/patch-postgres.mjs). Real PostgreSQL only.
 */
describe.runIf(databaseKinds.includes('postgres'))('pipelined commit attacks (postgres)', () => {
  const withDb = async (poolMax: number, fn: (db: Database, url: string) => Promise<void>) => {
    const { url, drop } = await createPostgresDatabase('quench_attack');
    const db = await openDatabase({ url, poolMax });
    try {
      await db.rows(sql`create table a_t (id int primary key, v text not null)`);
      await db.rows(sql`create table a_w (id int primary key, v text not null)`);
      await fn(db, url);
    } finally {
      await db.close();
      await drop();
    }
  };
  // Prepares the statement on the (only) connection through the same path the pipeline sends it.
  const prime = async (db: Database) => {
    for (const id of [100, 101])
      await pipelinedTransaction(db.orm, async (_tx, pl) => void pl.add(sql`insert into a_w (id, v) values (${id}, 'stale') returning *`));
  };
  const ids = async (db: Database, table: 'a_t' | 'a_w' = 'a_t') =>
    (await db.rows<{ id: number }>(table === 'a_t' ? sql`select id from a_t order by id` : sql`select id from a_w order by id`)).map((r) => r.id);

  // ---------------------------------------------------------------------------------------------
  // A prepared statement whose plan went stale fails inside the transaction. Upstream postgres.js
  // retried it by sending it again at the end of the pipeline, after the COMMIT pipelinedTransaction
  // had sent: it ran in autocommit after the ROLLBACK. Patched: no retry inside a transaction.
  // ---------------------------------------------------------------------------------------------
  it('stale plan as LAST statement: nothing of the transaction may commit and the caller must see an error', async () => {
    await withDb(1, async (db) => {
      await prime(db);
      await db.rows(sql`alter table a_w add column extra int`); // `returning *` changes result type
      const outcome = await pipelinedTransaction(db.orm, async (_tx, pl) => {
        void pl.add(sql`insert into a_t (id, v) values (1, 'first')`);
        void pl.add(sql`insert into a_w (id, v) values (${1}, 'stale') returning *`);
        return 'ok';
      }).then(
        (v) => ({ ok: true as const, v }),
        (e: unknown) => ({ ok: false as const, e: String(e) }),
      );
      const t = await ids(db, 'a_t');
      const w = (await ids(db, 'a_w')).filter((id) => id < 100);
      // Held would be: all-or-nothing and (if something is missing) an error.
      const allOrNothing = (t.length === 1 && w.length === 1) || (t.length === 0 && w.length === 0);
      const honest = outcome.ok ? t.length === 1 && w.length === 1 : t.length === 0 && w.length === 0;
      expect({ outcome, t, w, allOrNothing, honest }).toEqual({ outcome, t, w, allOrNothing: true, honest: true });
    });
  });

  it('stale plan in the MIDDLE: the retried statement must not commit on its own', async () => {
    await withDb(1, async (db) => {
      await prime(db);
      await db.rows(sql`alter table a_w add column extra int`);
      const outcome = await pipelinedTransaction(db.orm, async (_tx, pl) => {
        void pl.add(sql`insert into a_t (id, v) values (1, 'first')`);
        void pl.add(sql`insert into a_w (id, v) values (${1}, 'stale') returning *`);
        void pl.add(sql`insert into a_t (id, v) values (2, 'after')`);
      }).then(
        () => 'fulfilled',
        (e: unknown) => `rejected: ${String(e)}`,
      );
      const t = await ids(db, 'a_t');
      const w = (await ids(db, 'a_w')).filter((id) => id < 100);
      expect({ outcome: outcome.slice(0, 9), t, w }).toEqual(
        outcome === 'fulfilled' ? { outcome: 'fulfilled', t: [1, 2], w: [1] } : { outcome: 'rejected:', t: [], w: [] },
      );
    });
  });

  it('control: the same stale plan with settled() before COMMIT (old code) stays inside the transaction', async () => {
    await withDb(1, async (db) => {
      await prime(db);
      await db.rows(sql`alter table a_w add column extra int`);
      const outcome = await db.orm
        .transaction(async (tx) => {
          const pl = pipelineOn(tx);
          void pl.add(sql`insert into a_t (id, v) values (1, 'first')`);
          void pl.add(sql`insert into a_w (id, v) values (${1}, 'stale') returning *`);
          await pl.settled();
        })
        .then(
          () => 'fulfilled',
          () => 'rejected',
        );
      const t = await ids(db, 'a_t');
      const w = (await ids(db, 'a_w')).filter((id) => id < 100);
      // retryingStalePlans runs the transaction again: both rows land once
      expect({ outcome, t, w }).toEqual({ outcome: 'fulfilled', t: [1], w: [1] });
    });
  });

  // ---------------------------------------------------------------------------------------------
  // (postgres.js API, not reached through drizzle) a BEGIN that can fail (with options) is awaited:
  // the statements behind a failed one must never run in autocommit.
  // ---------------------------------------------------------------------------------------------
  it('a BEGIN that fails must fail the transaction (statements behind it must not autocommit)', async () => {
    await withDb(2, async (db, url) => {
      const client = postgres(url, { max: 1, onnotice: () => {} });
      try {
        const outcome = await client
          .begin('isolation level bogus', async (s) => {
            await s`insert into a_t (id, v) values (1, 'behind a failed begin')`;
            await s`insert into a_t (id, v) values (1, 'duplicate')`.catch(() => {});
            return 'ok';
          })
          .then(
            () => 'fulfilled',
            (e: unknown) => `rejected: ${(e as Error).message}`,
          );
        expect({ outcome: outcome.slice(0, 9), t: await ids(db) }).toEqual({ outcome: 'rejected:', t: [] });
      } finally {
        await client.end({ timeout: 1 });
      }
    });
  });

  // ---------------------------------------------------------------------------------------------
  // A BEGIN that lands as the 101st query pipelined on a busy connection (max_pipeline = 100):
  // upstream execute() returned before calling onexecute, so the transaction never learned its
  // connection and a TypeError no one could catch killed the process.
  // ---------------------------------------------------------------------------------------------
  it('a BEGIN pipelined behind 100 plain queries on the only connection still runs a whole transaction (child process)', async () => {
    await withDb(1, async (_db, url) => {
      // Raw postgres.js: the TypeError this provokes is thrown from a microtask and kills the process.
      const script = `
        import postgres from 'postgres';
        const s = postgres(${JSON.stringify(url)}, { max: 1, onnotice() {} });
        await s\`select 1\`;
        const plain = Array.from({ length: 100 }, () => { const q = s\`select pg_sleep(0.001)\`; q.execute(); return q; });
        const tx = s.begin(async (t) => (await t\`select txid_current() as x\`)[0]).then(() => 'ok', (e) => 'err ' + e.message);
        console.log('outcome', await Promise.race([tx, new Promise((r) => setTimeout(() => r('hung'), 3000))]));
        await Promise.allSettled(plain);
        await s.end({ timeout: 1 });`;
      const { spawnSync } = await import('node:child_process');
      const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), encoding: 'utf8', timeout: 15_000 });
      expect({ status: run.status, stdout: run.stdout.trim(), stderr: run.stderr.split('\n').find((l) => /Error/.test(l)) }).toEqual({
        status: 0,
        stdout: 'outcome ok',
        stderr: undefined,
      });
    });
  }, 20_000);

  // ---------------------------------------------------------------------------------------------
  // Tracked work that fails early must not end the transaction while other tracked work is still
  // going to add a statement (it would be added after ROLLBACK, on a connection back in the pool).
  // ---------------------------------------------------------------------------------------------
  it('a statement added by tracked work after another tracked work failed must not run outside the transaction', async () => {
    await withDb(1, async (db) => {
      let late: Promise<unknown> | undefined;
      const outcome = await pipelinedTransaction(db.orm, async (_tx, pl) => {
        void pl.add(sql`insert into a_t (id, v) values (1, 'x')`);
        let added!: () => void;
        const addedP = new Promise<void>((r) => (added = r));
        pl.track(
          (async () => {
            await pl.add(sql`select pg_sleep(0.05)`);
            late = pl.add(sql`insert into a_w (id, v) values (9, 'late')`);
            added();
            await late;
          })(),
          addedP,
        );
        pl.track(Promise.reject(new Error('early failure')));
      }).then(
        () => 'fulfilled',
        (e: unknown) => `rejected: ${(e as Error).message}`,
      );
      await new Promise((r) => setTimeout(r, 300));
      // The pipeline waits for every tracked work before the transaction ends: the late statement
      // ran inside it (and was rolled back with it), never on the pooled connection afterwards.
      await late?.catch(() => {});
      expect({ outcome, t: await ids(db), w: await ids(db, 'a_w') }).toEqual({ outcome: 'rejected: early failure', t: [], w: [] });
    });
  });

  // ---------------------------------------------------------------------------------------------
  // A savepoint's statement whose answer comes after its scope returned aborts the transaction:
  // COMMIT is answered ROLLBACK, which must not resolve as committed.
  // ---------------------------------------------------------------------------------------------
  it('a statement of a savepoint that fails after its scope returned must fail the transaction', async () => {
    await withDb(1, async (db) => {
      const outcome = await pipelinedTransaction(db.orm, async (tx, pl) => {
        await pl.add(sql`insert into a_t (id, v) values (1, 'outer')`);
        await tx.transaction(async (inner) => {
          void pipelineOn(inner).add(sql`insert into a_t (id, v) values (1, 'dup, answered after the savepoint returned')`);
        });
        return 'committed?';
      }).then(
        (v) => `fulfilled ${v}`,
        (e: unknown) => `rejected: ${(e as Error).message}`,
      );
      const rows = await ids(db);
      expect({ outcome: outcome.slice(0, 9), honest: outcome.startsWith('fulfilled') ? rows.length === 1 : rows.length === 0 }).toEqual({
        outcome: 'rejected:',
        honest: true,
      });
    });
  });

  // ---------------------------------------------------------------------------------------------
  // Properties that should hold.
  // ---------------------------------------------------------------------------------------------
  it('a failure at any position of the flight (first behind BEGIN .. last before COMMIT) commits nothing and rejects', async () => {
    for (const poolMax of [1, 2]) {
      await withDb(poolMax, async (db) => {
        const n = 6;
        for (let bad = 0; bad < n; bad++) {
          await db.rows(sql`delete from a_t`);
          await db.rows(sql`insert into a_t (id, v) values (1000, 'existing')`);
          const outcome = await pipelinedTransaction(db.orm, async (_tx, pl) => {
            for (let i = 0; i < n; i++) void pl.add(sql`insert into a_t (id, v) values (${i === bad ? 1000 : i}, ${`s${i}`})`);
          }).then(
            () => 'fulfilled',
            () => 'rejected',
          );
          expect({ bad, outcome, rows: await ids(db) }).toEqual({ bad, outcome: 'rejected', rows: [1000] });
        }
      });
    }
  }, 30_000);

  it('a failing audit-like tracked insert (appendOnPipeline pattern) after its `added` signal rejects and commits nothing', async () => {
    await withDb(2, async (db) => {
      const outcome = await pipelinedTransaction(db.orm, async (_tx, pl) => {
        void pl.add(sql`insert into a_t (id, v) values (1, 'x')`);
        let added!: () => void;
        const addedP = new Promise<void>((r) => (added = r));
        pl.track(
          (async () => {
            const [r] = await pl.add<{ n: number }>(sql`select 1 as n`);
            const ins = pl.add(sql`insert into a_t (id, v) values (${r!.n}, 'dup')`);
            added();
            await ins;
          })(),
          addedP,
        );
      }).then(
        () => 'fulfilled',
        () => 'rejected',
      );
      expect({ outcome, rows: await ids(db) }).toEqual({ outcome: 'rejected', rows: [] });
    });
  });

  it('a JS exception after statements were queued rolls back (and no statement runs in autocommit)', async () => {
    await withDb(1, async (db) => {
      const attempt = pipelinedTransaction(db.orm, async (_tx, pl) => {
        void pl.add(sql`insert into a_t (id, v) values (1, 'x')`);
        void pl.add(sql`insert into a_t (id, v) values (2, 'x')`);
        throw new Error('boom');
      });
      await expect(attempt).rejects.toThrow('boom');
      expect(await ids(db)).toEqual([]);
    });
  });

  it('every statement of the first flight (behind BEGIN, describe-first ones included) runs in the transaction', async () => {
    await withDb(1, async (db) => {
      const seen = await pipelinedTransaction(db.orm, async (_tx, pl) => {
        const xs = [
          pl.add<{ x: string | null }>(sql`select txid_current_if_assigned()::text as x`),
          pl.add<{ x: string | null }>(sql`select txid_current()::text as x where ${1}::int = 1`), // params: describe-first
          pl.add<{ x: string | null }>(sql`select txid_current_if_assigned()::text as x where ${'a'}::text = 'a'`),
          pl.add<{ x: string | null }>(sql`select txid_current()::text as x`),
        ];
        return (await Promise.all(xs)).map((r) => r[0]!.x);
      });
      expect(seen[0]).toBeNull(); // nothing written yet, but the next three agree on one txid
      expect(new Set(seen.slice(1)).size).toBe(1);
      expect(seen[1]).not.toBeNull();
    });
  });

  it('very large flights (> 100 statements, > 64 KB) commit whole or not at all', async () => {
    await withDb(1, async (db) => {
      const big = 'x'.repeat(2000);
      await pipelinedTransaction(db.orm, async (_tx, pl) => {
        for (let i = 0; i < 250; i++) void pl.add(sql`insert into a_t (id, v) values (${i}, ${big})`);
      });
      expect((await ids(db)).length).toBe(250);
      await db.rows(sql`delete from a_t`);
      const outcome = await pipelinedTransaction(db.orm, async (_tx, pl) => {
        for (let i = 0; i < 250; i++) void pl.add(sql`insert into a_t (id, v) values (${i === 249 ? 0 : i}, ${big})`);
      }).then(
        () => 'fulfilled',
        () => 'rejected',
      );
      expect({ outcome, n: (await ids(db)).length }).toEqual({ outcome: 'rejected', n: 0 });
    });
  }, 30_000);

  it('nested savepoints still work inside a pipelined transaction', async () => {
    await withDb(1, async (db) => {
      await pipelinedTransaction(db.orm, async (tx, pl) => {
        void pl.add(sql`insert into a_t (id, v) values (1, 'outer')`);
        await tx
          .transaction(async (inner) => {
            await inner.execute(sql`insert into a_t (id, v) values (2, 'inner')`);
            await inner.execute(sql`insert into a_t (id, v) values (1, 'dup')`);
          })
          .catch(() => {});
        await tx.transaction(async (inner) => {
          await inner.execute(sql`insert into a_t (id, v) values (3, 'inner ok')`);
        });
        void pl.add(sql`insert into a_t (id, v) values (4, 'after')`);
      });
      expect(await ids(db)).toEqual([1, 3, 4]);
    });
  });

  it('pool exhaustion: many pipelined transactions and plain writes interleaved never mix', async () => {
    for (const poolMax of [1, 2]) {
      await withDb(poolMax, async (db) => {
        const txs = Array.from({ length: 60 }, (_, i) =>
          pipelinedTransaction(db.orm, async (_tx, pl) => {
            const [x] = await pl.add<{ x: string }>(sql`select txid_current()::text as x`);
            void pl.add(sql`insert into a_t (id, v) values (${i * 10 + 1}, ${x!.x})`);
            void pl.add(sql`insert into a_t (id, v) values (${i * 10 + 2}, (select txid_current()::text))`);
            if (i % 4 === 0) void pl.add(sql`insert into a_t (id, v) values (${i * 10 + 1}, 'dup')`);
          }).then(
            () => 'ok',
            () => 'failed',
          ),
        );
        const plain = Array.from({ length: 60 }, (_, i) =>
          db.rows(sql`insert into a_w (id, v) values (${i}, (select coalesce(txid_current_if_assigned()::text, 'none')))`).then(
            () => 'ok',
            () => 'failed',
          ),
        );
        const out = await Promise.all(txs);
        expect(await Promise.all(plain)).toEqual(plain.map(() => 'ok'));
        expect(out).toEqual(out.map((_, i) => (i % 4 === 0 ? 'failed' : 'ok')));
        const rows = await db.rows<{ id: number; v: string }>(sql`select id, v from a_t order by id`);
        const byTx = new Map<number, string[]>();
        for (const r of rows) byTx.set(Math.floor(r.id / 10), [...(byTx.get(Math.floor(r.id / 10)) ?? []), r.v]);
        for (const [i, vs] of byTx) {
          expect(i % 4).not.toBe(0);
          expect(vs.length).toBe(2);
          expect(vs[0]).toBe(vs[1]); // both rows written in one transaction
        }
        expect(byTx.size).toBe(45);
      });
    }
  }, 60_000);

  it('the backend terminated while the flight and COMMIT are out: the caller sees an error, nothing hangs, the pool recovers', async () => {
    await withDb(1, async (db, url) => {
      const admin = postgres(url, { max: 1, onnotice: () => {} });
      try {
        const [{ pid }] = (await db.rows<{ pid: number }>(sql`select pg_backend_pid() as pid`)) as [{ pid: number }];
        const attempt = pipelinedTransaction(db.orm, async (_tx, pl) => {
          void pl.add(sql`insert into a_t (id, v) values (1, 'x')`);
          void pl.add(sql`select pg_sleep(0.5)`);
          void pl.add(sql`insert into a_t (id, v) values (2, 'x')`);
        }).then(
          () => 'fulfilled',
          (e: unknown) => `rejected: ${(e as Error).message}`,
        );
        await new Promise((r) => setTimeout(r, 150));
        await admin`select pg_terminate_backend(${pid})`;
        const outcome = await Promise.race([attempt, new Promise<string>((r) => setTimeout(() => r('hung'), 5000))]);
        expect(outcome).toMatch(/^rejected/);
        expect(await ids(db)).toEqual([]);
        // afterwards the pool works and writes commit
        await pipelinedTransaction(db.orm, async (_tx, pl) => void pl.add(sql`insert into a_t (id, v) values (5, 'y')`));
        expect(await ids(db)).toEqual([5]);
      } finally {
        await admin.end({ timeout: 1 });
      }
    });
  }, 20_000);
});
