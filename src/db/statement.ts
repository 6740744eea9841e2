import { is, Placeholder, type SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import { types } from '@electric-sql/pglite';
import type { Executor } from './database.js';
import { resultRows } from './rows.js';

/**
 * Statements built once. drizzle turns a query into text and parameters on every call, and on
 * the engine's hot path that was a sixth of the process's busy time (its `is()` walks every
 * chunk's prototype chain): `fixed(sql\`… ${sql.placeholder('id')} …\`)` renders the text once,
 * at module load, and each call only fills the parameters by position. The query is written as
 * any drizzle query (the reasoning beside it stays readable); values that change per call are
 * placeholders, constants may stay inline.
 *
 * Rows come back raw, with the column names of the SQL, as from `db.rows` and the pipeline:
 * select timestamps as epoch milliseconds (rows.ts `epochMs`) and json as json, which both
 * drivers return alike. Parameters are sent as drizzle sends raw values: JSON and timestamps
 * as strings with a cast in the text.
 */
export interface Bound {
  readonly [BOUND]: true;
  readonly text: string;
  readonly params: unknown[];
}

const BOUND = Symbol('quench.bound');
const dialect = new PgDialect();

export function isBound(query: unknown): query is Bound {
  return typeof query === 'object' && query !== null && BOUND in query;
}

/** Renders `query` once; the returned function binds values to its placeholders by name. */
export function fixed<V extends object>(query: SQL): (values: V) => Bound {
  const { sql: text, params } = dialect.sqlToQuery(query);
  const names = params.map((p) => (is(p, Placeholder) ? p.name : undefined));
  return (values) => ({
    [BOUND]: true,
    text,
    params: names.map((name, i) => (name === undefined ? params[i] : (values as Record<string, unknown>)[name])),
  });
}

/** A json/jsonb parameter as drizzle sends one: JSON text, SQL NULL for null and undefined. */
export const jsonParam = (value: unknown): string | null => (value === null || value === undefined ? null : JSON.stringify(value));

/** A timestamp parameter as drizzle sends one: ISO text (cast in the statement's text). */
export const timeParam = (value: Date | null | undefined): string | null => (value ? value.toISOString() : null);

interface DriverInternals {
  session?: {
    client?: {
      unsafe?: (text: string, params: unknown[]) => PromiseLike<unknown> & { execute(): unknown };
      query?: (text: string, params: unknown[], options: unknown) => Promise<unknown>;
    };
  };
}

// As drizzle's PGlite session reads raw rows: timestamps as text, as postgres.js gives them here.
const pgliteRaw = {
  rowMode: 'object',
  parsers: {
    [types.TIMESTAMP]: (v: string) => v,
    [types.TIMESTAMPTZ]: (v: string) => v,
    [types.INTERVAL]: (v: string) => v,
    [types.DATE]: (v: string) => v,
  },
};

/**
 * Sends a bound statement on the executor's connection (a transaction's, or the pool's) and
 * returns a promise of its rows. On postgres.js it is queued on the connection at once, in call
 * order (so statements sent one after the other form a pipeline, pipeline.ts), and prepared as
 * the client is set up to (prepared.ts).
 */
export function sendBound<T>(executor: Executor, bound: Bound): Promise<T[]> {
  const client = (executor as unknown as DriverInternals).session?.client;
  if (client?.unsafe) {
    const q = client.unsafe(bound.text, bound.params);
    q.execute();
    return Promise.resolve(q).then((rows) => resultRows<T>(rows));
  }
  if (client?.query) return client.query(bound.text, bound.params, pgliteRaw).then((r) => resultRows<T>(r));
  throw new Error('bound statements need a postgres.js or PGlite drizzle executor');
}
