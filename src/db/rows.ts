import { type SQL, sql } from 'drizzle-orm';

/** Normalises the two drivers' result shapes: postgres.js returns an array, PGlite `{ rows }`. */
export function resultRows<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  const rows = (result as { rows?: unknown }).rows;
  return Array.isArray(rows) ? (rows as T[]) : [];
}

/**
 * A timestamp column as milliseconds since the epoch, exact: in raw SQL the drivers return
 * timestamps differently (strings, Dates), and timestamptz keeps microseconds, Date ms.
 */
export const epochMs = (column: SQL): SQL => sql`floor(extract(epoch from ${column}) * 1000)::float8`;

/** A json/jsonb value from a raw row: parsed by one driver, a string from the other. */
export const parsedJson = <T = unknown>(value: unknown): T => (typeof value === 'string' ? JSON.parse(value) : value) as T;

/** Characters JSON.stringify writes differently from an array literal's quoting (as \n, \u0000, \udXXX). */
// eslint-disable-next-line no-control-regex
const NOT_JSON_SAFE = /[\u0000-\u001f\ud800-\udfff]/;

/**
 * One quoted element: `"` and `\` escaped with a backslash. Without control characters or
 * surrogates, that is exactly what JSON.stringify writes, in one flat string; the two regex
 * replaces allocated about ten times a JSON webhook body's size (a piece per quote), the largest
 * allocation of an accepted webhook.
 */
const quoteElement = (s: string): string =>
  NOT_JSON_SAFE.test(s) ? `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : JSON.stringify(s);

/**
 * A PostgreSQL array literal parameter: postgres.js and PGlite both take the text form, which
 * keeps one code path for both drivers. Every element is quoted (NULL stays unquoted).
 */
export function pgArray(values: ReadonlyArray<string | number | null>): string {
  // Appended piece by piece, not `{${parts.join(',')}}`: the drivers flatten the result once
  // to encode it, where the joined form was copied twice (by join, then flattened with braces).
  let literal = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    literal += (i === 0 ? '' : ',') + (v === null ? 'NULL' : quoteElement(String(v)));
  }
  return `${literal}}`;
}
