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

/**
 * A PostgreSQL array literal parameter: postgres.js and PGlite both take the text form, which
 * keeps one code path for both drivers. Every element is quoted (NULL stays unquoted).
 */
export function pgArray(values: ReadonlyArray<string | number | null>): string {
  return `{${values.map((v) => (v === null ? 'NULL' : `"${String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)).join(',')}}`;
}
