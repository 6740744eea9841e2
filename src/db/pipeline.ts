import type { SQL } from 'drizzle-orm';
import type { Executor, Orm, Tx } from './database.js';
import { resultRows } from './rows.js';
import { type Bound, isBound, sendBound } from './statement.js';

/**
 * Statements of one transaction sent back to back, without waiting for each answer: on
 * postgres.js they go out on the transaction's connection in the order added (its pipeline),
 * so a transaction of N independent writes costs one round trip instead of N. Semantics are
 * those of running them one after the other: PostgreSQL executes them in order, and after a
 * failed one every later one fails too (the transaction is aborted).
 *
 * Every statement added must be awaited through `settled()` before the transaction ends: a
 * COMMIT sent after a failed statement would end the transaction as a ROLLBACK without an error.
 * On other drivers (PGlite, in process) statements run one after the other, in the same order.
 *
 * Statements run as drizzle would run them (`dialect.sqlToQuery`, prepared as the client is
 * set up to: src/db/prepared.ts); raw rows come back with the column names of the SQL (no
 * drizzle mapping).
 */
export interface Pipeline {
  /** Sends a statement (a query builder, raw SQL, or a statement built once: statement.ts); its rows once it ran. */
  add<T = Record<string, unknown>>(query: SQL | { getSQL(): SQL } | Bound): Promise<T[]>;
  /**
   * Counts work that adds statements later (say, after a read of its own) as part of the
   * pipeline: `settled()` waits for it, and for what it adds. `added`, when given, resolves once
   * the work has added its last statement (its answer may still be on the way): `queued()`
   * waits for that instead of the whole work.
   */
  track(work: Promise<unknown>, added?: Promise<unknown>): void;
  /** Resolves when every statement added (and all tracked work) ran; rejects with the first failure. */
  settled(): Promise<void>;
  /**
   * Resolves when the transaction may send COMMIT: on postgres.js as soon as every statement
   * is on its way (tracked work has added its last one), without waiting for their answers —
   * COMMIT then goes out behind them, in the same flight, and a statement that fails makes the
   * transaction fail (PostgreSQL answers that COMMIT with ROLLBACK, and the patched driver
   * rejects it: scripts/patch-postgres.mjs). A transaction ending this way must still
   * `settled()` after it returns, to read the answers. On other drivers (PGlite runs statements
   * one after the other, and a COMMIT would not wait for the queued ones): `settled()`.
   */
  queued(): Promise<void>;
}

interface DrizzleInternals {
  dialect?: { sqlToQuery(sql: SQL): { sql: string; params: unknown[] } };
  session?: { client?: { unsafe?: (text: string, params: unknown[]) => PromiseLike<unknown> & { execute(): unknown } } };
}

export function pipelineOn(tx: Executor): Pipeline {
  const pending: Array<Promise<unknown>> = [];
  // Per tracked work, when it has added its last statement (or ended).
  const adding: Array<Promise<unknown>> = [];
  const internals = tx as unknown as DrizzleInternals;
  const client = internals.session?.client;
  const dialect = internals.dialect;
  let last: Promise<unknown> = Promise.resolve();
  const toSql = (query: SQL | { getSQL(): SQL }): SQL => ('getSQL' in query && typeof query.getSQL === 'function' ? query.getSQL() : (query as SQL));
  const track = <T>(p: Promise<T>): Promise<T> => {
    // Handled here so a failure is never unhandled; `settled()` and the caller see it.
    p.catch(() => {});
    pending.push(p);
    return p;
  };
  return {
    add<T>(query: SQL | { getSQL(): SQL } | Bound): Promise<T[]> {
      if (isBound(query)) {
        if (client?.unsafe) return track(sendBound<T>(tx, query));
        const run = last.then(
          () => sendBound<T>(tx, query),
          () => sendBound<T>(tx, query),
        );
        last = run.catch(() => {});
        return track(run);
      }
      const statement = toSql(query);
      if (client?.unsafe && dialect) {
        const { sql: text, params } = dialect.sqlToQuery(statement);
        // Prepared or not as the client says (DATABASE_PREPARE, prepared.ts).
        const q = client.unsafe(text, params);
        q.execute(); // queued on the connection now, in call order
        return track(Promise.resolve(q).then((rows) => resultRows<T>(rows)));
      }
      const run = last.then(
        () => tx.execute(statement),
        () => tx.execute(statement),
      );
      last = run.catch(() => {});
      return track(run.then((rows) => resultRows<T>(rows)));
    },
    track(work, added) {
      track(work);
      // Work that fails before it added its last statement fails `queued()` too: COMMIT must not
      // go out without what it was to add (say, a transition without its audit entries).
      const done = work.then(noop);
      const ready = added ? Promise.race([added, done]) : done;
      ready.catch(noop);
      adding.push(ready);
    },
    // Tracked work may add statements while we wait: wait until nothing new came.
    settled: () => allOf(pending),
    queued: () => (client?.unsafe ? allOf(adding) : allOf(pending)),
  };
}

/**
 * A transaction whose statements go on one pipeline and whose COMMIT goes out behind its last
 * writes, in the same flight (`queued`): `fn` awaits only what it must read, and the answers
 * of the rest are read after the commit. Resolves with what `fn` returned once every statement
 * answered; rejects, with nothing committed, if any failed.
 */
export async function pipelinedTransaction<T>(orm: Orm, fn: (tx: Tx, pl: Pipeline) => Promise<T>): Promise<T> {
  let pl: Pipeline | undefined;
  const result = await orm.transaction(async (tx) => {
    pl = pipelineOn(tx);
    const out = await fn(tx, pl);
    await pl.queued();
    return out;
  });
  await pl?.settled();
  return result;
}

/**
 * Waits for every promise in `list`, including those pushed to it meanwhile, then rejects with
 * the first failure. Never sooner: the transaction ends (ROLLBACK) right after, and tracked
 * work still running could otherwise add a statement once the connection is back in the pool.
 */
async function allOf(list: Array<Promise<unknown>>): Promise<void> {
  let failure: { error: unknown } | undefined;
  for (let seen = 0; seen < list.length; ) {
    const batch = list.slice(seen);
    seen = list.length;
    for (const r of await Promise.allSettled(batch)) if (r.status === 'rejected') failure ??= { error: r.reason };
  }
  if (failure) throw failure.error;
}

const noop = () => {};
