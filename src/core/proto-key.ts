import { z } from 'zod';

/**
 * Keeps a JSON key named `__proto__` through a zod record or loose object.
 *
 * JSON.parse makes `{"__proto__": "x"}` an own property, and JSON.stringify writes it back; but
 * zod builds its output as a plain `{}`, where assigning `__proto__` would set the prototype,
 * so both `z.record` and a loose object's unknown keys skip that key: unchecked, and gone from
 * what parsing returns. A label, an annotation or a sender's field of that name vanished from
 * the event, the run's trigger and every copy made from them, while the stored body kept it.
 *
 * Here the key is renamed, before the inner schema runs, to one no request can hold (it has a
 * NUL, which intake refuses: ../http/body.ts), so the inner schema checks its value like any
 * other; afterwards it is named `__proto__` again, as an own data property (never through the
 * prototype setter). parseWith (../http/body.ts) reports a failing path under its real name.
 */
export const PROTO_STANDIN = '\u0000__proto__';

const rename = (input: object, from: string, to: string): Record<string, unknown> => {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(input)) {
    Object.defineProperty(out, key === from ? to : key, {
      value: (input as Record<string, unknown>)[key],
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
};

const hasOwnKey = (value: unknown, key: string): value is object =>
  value !== null && typeof value === 'object' && !Array.isArray(value) && Object.hasOwn(value, key);

/** `schema` (a record or a loose object) with an own `__proto__` key kept, and checked like the others. */
export function keepingProtoKey<S extends z.ZodType<Record<string, unknown>>>(schema: S) {
  return z
    .preprocess((input) => (hasOwnKey(input, '__proto__') ? rename(input, '__proto__', PROTO_STANDIN) : input), schema)
    .overwrite((output) => (hasOwnKey(output, PROTO_STANDIN) ? (rename(output, PROTO_STANDIN, '__proto__') as typeof output) : output));
}

/** A JSON object of strings (labels, annotations) that keeps every key as sent, `__proto__` included. */
export const stringMap = () => keepingProtoKey(z.record(z.string(), z.string()));

/** A path as a message names it: the stand-in shown as the `__proto__` it is. */
export const shownPath = (path: readonly PropertyKey[]): string =>
  path.map((p) => (p === PROTO_STANDIN ? '__proto__' : String(p))).join('.');
