import { describe, expect, it } from 'vitest';
import { pgArray } from '../../../src/db/rows.js';

/** The literal as it was built before the JSON.stringify fast path: the reference the fast path must match. */
const reference = (values: ReadonlyArray<string | number | null>) =>
  `{${values.map((v) => (v === null ? 'NULL' : `"${String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)).join(',')}}`;

const tricky = [
  '',
  'plain',
  '"',
  '\\',
  '\\"',
  'a"b\\c',
  '{"id":"x","labels":{"a":"b"},"s":"quote \\" and backslash \\\\"}',
  'line\nbreak',
  'tab\tand\rreturn',
  '\u0001\u001f\u007f',
  'é ü ß 😀',
  '\u2028\u2029',
  'NULL',
  ',{}',
  'x'.repeat(5000),
];

describe('pgArray', () => {
  it('writes the same literal as plain backslash escaping', () => {
    expect(pgArray(tricky)).toBe(reference(tricky));
    expect(pgArray([])).toBe('{}');
    expect(pgArray([null, 'a', 1, 2.5, null])).toBe(reference([null, 'a', 1, 2.5, null]));
    // Random strings over the characters that matter: quotes, backslashes, braces, commas, controls, surrogates.
    const alphabet = ['"', '\\', '{', '}', ',', ' ', 'a', 'é', '\n', '\u0000', '\u001f', '\ud83d', '\ude00', '\ud800'];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % alphabet.length;
    for (let i = 0; i < 2000; i++) {
      const s = Array.from({ length: i % 12 }, () => alphabet[next()]).join('');
      expect(pgArray([s, null, s])).toBe(reference([s, null, s]));
    }
  });
});
