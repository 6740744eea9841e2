/**
 * PostgreSQL's jsonb rejects the NUL character (`\u0000`) anywhere in a string or a key, and
 * an action's output is whatever the target answered. A success must never turn into a
 * failure because of one byte, so strings and keys are stored with U+0000 replaced by U+FFFD
 * (the replacement character). Only plain objects, arrays and strings are walked; dates and
 * other values pass through unchanged.
 */
const NUL = '\u0000';

export function storable<T>(value: T): T {
  if (typeof value === 'string') return (value.includes(NUL) ? value.replaceAll(NUL, '\uFFFD') : value) as T;
  if (Array.isArray(value)) return value.map((v) => storable(v)) as T;
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[storable(k)] = storable(v);
    return out as T;
  }
  return value;
}

/** Whether a string or key anywhere in `value` holds a NUL (what `storable` would replace). */
export function hasNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes(NUL);
  if (Array.isArray(value)) return value.some(hasNul);
  if (isPlainObject(value)) return Object.entries(value).some(([k, v]) => k.includes(NUL) || hasNul(v));
  return false;
}

/** The objects both walk: plain ones (dates and other class instances pass through as they are). */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
