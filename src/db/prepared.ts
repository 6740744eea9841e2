/**
 * drizzle-orm runs every query it builds through postgres.js with `prepare: false`. postgres.js
 * cannot serialise parameters of unknown type without asking the server, so each unprepared
 * query with parameters becomes two round trips (Parse + Describe, wait, then Bind + Execute)
 * and stops the connection's pipeline while it waits. Prepared, a statement is described once
 * per connection and every later use is one round trip that can be pipelined.
 *
 * This wraps the client drizzle is given so its queries are prepared (postgres.js's own
 * default), including inside transactions and savepoints, whose clients postgres.js creates.
 * Statements are cached per connection by text; our queries come from a bounded set of shapes,
 * and postgres.js recycles connections (`max_lifetime`), which bounds the cache.
 *
 * `DATABASE_PREPARE=false` turns this off for poolers in transaction mode that cannot carry
 * prepared statements across server connections (PgBouncer before 1.21).
 */
type Scope = (client: unknown) => unknown;
type Opener = (...args: unknown[]) => Promise<unknown>;

export function withPreparedStatements<T extends object>(client: T): T {
  // begin(fn) / begin(options, fn), savepoint(fn) / savepoint(name, fn): the scope's client is wrapped too.
  const scoped = (open: Opener) => (first: unknown, fn?: unknown) =>
    typeof first === 'function'
      ? open((inner: unknown) => (first as Scope)(withPreparedStatements(inner as object)))
      : open(first, (inner: unknown) => (fn as Scope)(withPreparedStatements(inner as object)));
  return new Proxy(client, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const bound = (value as Opener).bind(target);
      if (key === 'unsafe')
        return (query: string, params?: unknown[], options?: Record<string, unknown>) => bound(query, params, { ...options, prepare: true });
      if (key === 'begin' || key === 'savepoint') return scoped(bound);
      return bound;
    },
  });
}
