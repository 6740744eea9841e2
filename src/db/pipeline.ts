import type { SQL } from 'drizzle-orm';
import type { Executor } from './database.js';
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
   * pipeline: `settled()` waits for it, and for what it adds.
   */
  track(work: Promise<unknown>): void;
  /** Resolves when every statement added (and all tracked work) ran; rejects with the first failure. */
  settled(): Promise<void>;
}

interface DrizzleInternals {
  dialect?: { sqlToQuery(sql: SQL): { sql: string; params: unknown[] } };
  session?: { client?: { unsafe?: (text: string, params: unknown[]) => PromiseLike<unknown> & { execute(): unknown } } };
}

export function pipelineOn(tx: Executor): Pipeline {
  const pending: Array<Promise<unknown>> = [];
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
    track(work) {
      track(work);
    },
    async settled() {
      // Tracked work may add statements while we wait: wait until nothing new came.
      for (let seen = 0; seen < pending.length; ) {
        const batch = pending.slice(seen);
        seen = pending.length;
        await Promise.all(batch);
      }
    },
  };
}
