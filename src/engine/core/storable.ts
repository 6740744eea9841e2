/**
 * PostgreSQL's jsonb rejects the NUL character (`\u0000`) and unpaired UTF-16 surrogates (half of
 * an emoji, say from cutting a string) anywhere in a string or a key, and an action's output is
 * whatever the target answered. A success must never turn into a failure because of one
 * character, so strings and keys are stored with each of those replaced by U+FFFD (the
 * replacement character). Only plain objects, arrays and strings are walked; dates and other
 * values pass through unchanged.
 */
const UNSTORABLE = /\0|\p{Cs}/gu;
const UNSTORABLE_ONE = /\0|\p{Cs}/u;

const storableString = (s: string) => (UNSTORABLE_ONE.test(s) ? s.replace(UNSTORABLE, '\uFFFD') : s);

export function storable<T>(value: T): T {
  if (typeof value === 'string') return storableString(value) as T;
  if (Array.isArray(value)) return value.map((v) => storable(v)) as T;
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[storableString(k)] = storable(v);
    return out as T;
  }
  return value;
}


/**
 * Why `value` cannot be stored as jsonb as it is (parameters are stored exactly as rendered,
 * so they are refused rather than altered), or undefined.
 */
export function storageProblem(value: unknown): string | undefined {
  if (typeof value === 'string') return stringProblem(value);
  if (typeof value === 'bigint') return 'a BigInt, which JSON cannot hold';
  if (Array.isArray(value)) {
    for (const v of value) {
      const problem = storageProblem(v);
      if (problem) return problem;
    }
    return undefined;
  }
  if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      const problem = stringProblem(k) ?? storageProblem(v);
      if (problem) return problem;
    }
  }
  return undefined;
}

function stringProblem(s: string): string | undefined {
  if (!UNSTORABLE_ONE.test(s)) return undefined;
  return s.includes('\0')
    ? 'a NUL character (\\u0000)'
    : 'an unpaired UTF-16 surrogate (half of an emoji or other character, as cutting a string can leave)';
}

/** The objects both walk: plain ones (dates and other class instances pass through as they are). */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
