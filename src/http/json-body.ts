import { z } from 'zod';

/**
 * Response schemas (`RouteDoc.responses[status].body`, published in /openapi.json) describe the
 * JSON a handler's body becomes, not the TypeScript value it returns. `JsonOf<T>` is that JSON's
 * type: dates as the ISO strings JSON.stringify writes, and `unknown` (a jsonb column, an
 * action's output) left to whatever the schema says of it.
 */
export type JsonOf<T> = unknown extends T
  ? // eslint-disable-next-line @typescript-eslint/no-explicit-any -- unknown is the one type a schema may narrow freely: the type knows nothing to check it against
    any
  : T extends Date
    ? string
    : T extends readonly (infer U)[]
      ? JsonOf<U>[]
      : T extends object
        ? { [K in keyof T]: JsonOf<T[K]> }
        : T;

/**
 * Why `S` and `T` disagree, as a type the schema argument cannot satisfy (`unknown` when they
 * agree): a value the schema accepts that the type never holds (a field the type requires is
 * missing or optional in the schema, or the schema's is wider), or the other way round.
 */
type Disagreement<S extends z.ZodType, T> = [z.input<S>] extends [JsonOf<T>]
  ? [JsonOf<T>] extends [z.input<S>]
    ? unknown
    : { 'the type holds JSON the schema refuses': { type: JsonOf<T>; schema: z.input<S> } }
  : { 'the schema accepts JSON the type never holds': { schema: z.input<S>; type: JsonOf<T> } };

/**
 * `jsonBodyOf<T>()(schema)`: `schema`, checked at compile time to describe exactly the JSON of a
 * `T` — every value of each is a value of the other — so a field added to the type and not to
 * the schema (or typed differently) fails to compile where the schema is written. An optional
 * field of the type that the schema leaves out is the one gap (each still accepts the other):
 * test/integration/openapi-responses.test.ts finds it when a handler sends it.
 */
export const jsonBodyOf =
  <T>() =>
  <S extends z.ZodType>(schema: S & Disagreement<S, T>): S =>
    schema;

/** A time as the API writes it: `Date#toISOString()` (UTC, milliseconds). */
export const isoTime = () => z.iso.datetime();
