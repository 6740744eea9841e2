/**
 * drizzle-orm runs every query it builds through postgres.js with `prepare: false`. postgres.js
 * cannot serialise parameters of unknown type without asking the server, so each unprepared
 * query with parameters becomes two round trips (Parse + Describe, wait, then Bind + Execute)
 * and stops the connection's pipeline while it waits. Prepared, a statement is described once
 * per connection and every later use is one round trip that can be pipelined.
 *
 * This wraps the client drizzle is given so its queries are prepared (postgres.js's own
 * default), including inside transactions and savepoints, whose clients postgres.js creates.
 * Only the first `maxStatements` distinct statement texts are prepared; later ones run
 * unprepared. A statement with a list of variable length (`in (...)`, a multi-row insert) has
 * one text per length, and each prepared text costs server memory on every pooled connection
 * for the connection's life; the hot statements are a few dozen fixed texts, met first.
 *
 * `DATABASE_PREPARE=false` turns this off for poolers in transaction mode that cannot carry
 * prepared statements across server connections (PgBouncer before 1.21).
 */
type Scope = (client: unknown) => unknown;
type Opener = (...args: unknown[]) => Promise<unknown>;

export const MAX_PREPARED_STATEMENTS = 200;

export function withPreparedStatements<T extends object>(client: T, maxStatements = MAX_PREPARED_STATEMENTS): T {
  const prepared = new Set<string>();
  const shouldPrepare = (text: string) => {
    if (prepared.has(text)) return true;
    if (prepared.size >= maxStatements) return false;
    prepared.add(text);
    return true;
  };
  const wrap = <C extends object>(c: C): C => {
    // begin(fn) / begin(options, fn), savepoint(fn) / savepoint(name, fn): the scope's client is wrapped too.
    const scoped = (open: Opener) => (first: unknown, fn?: unknown) =>
      typeof first === 'function'
        ? open((inner: unknown) => (first as Scope)(wrap(inner as object)))
        : open(first, (inner: unknown) => (fn as Scope)(wrap(inner as object)));
    // Made once per method and client (drizzle reads `unsafe` for every query it runs).
    const methods = new Map<PropertyKey, { of: unknown; wrapped: unknown }>();
    return new Proxy(c, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver) as unknown;
        if (typeof value !== 'function') return value;
        const known = methods.get(key);
        if (known?.of === value) return known.wrapped;
        const bound = (value as Opener).bind(target);
        const wrapped =
          key === 'unsafe'
            ? (query: string, params?: unknown[], options?: Record<string, unknown>) => bound(query, params, { ...options, prepare: shouldPrepare(query) })
            : key === 'begin' || key === 'savepoint'
              ? scoped(bound)
              : bound;
        methods.set(key, { of: value, wrapped });
        return wrapped;
      },
    });
  };
  return wrap(client);
}

/**
 * PostgreSQL refuses a prepared statement whose result type changed since it was prepared (a
 * migration altered a column it returns: "cached plan must not change result type"). Outside a
 * transaction postgres.js prepares it again by itself; inside one the transaction is already
 * aborted. postgres.js has then dropped the stale statement, so the transaction is run again
 * once: a rolling deploy costs a retry, not a failed decision or cancel.
 */
export function isStalePlan(err: unknown): boolean {
  // drizzle wraps the driver's error ("Failed query: …", the PostgresError as `cause`).
  for (let e = err as { code?: unknown; message?: unknown; routine?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e.code === '0A000' && (e.routine === 'RevalidateCachedQuery' || /cached plan must not change result type/.test(String(e.message)))) return true;
  }
  return false;
}

export function retryingStalePlans<T extends object>(orm: T): T {
  return new Proxy(orm, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (key !== 'transaction' || typeof value !== 'function') return value;
      const transaction = (value as Opener).bind(target);
      return async (...args: unknown[]) => {
        try {
          return await transaction(...args);
        } catch (err) {
          if (!isStalePlan(err)) throw err;
          return transaction(...args);
        }
      };
    },
  });
}
