import { describe, expect, it } from 'vitest';
import { hasNul, storable } from '../../../src/engine/core/storable.js';

describe('hasNul', () => {
  it('finds a NUL in strings, keys and nested values, and only a real one', () => {
    expect(hasNul('a\u0000b')).toBe(true);
    expect(hasNul({ deep: [{ x: 'ok' }, { y: 'a\u0000' }] })).toBe(true);
    expect(hasNul({ ['k\u0000']: 1 })).toBe(true);
    // The six characters backslash-u-0-0-0-0 are text, not a NUL.
    expect(hasNul({ message: '\\u0000' })).toBe(false);
    expect(hasNul({ n: 1, ok: [true, null, 'plain'] })).toBe(false);
    expect(hasNul(new Date(0))).toBe(false);
  });

  it('says true exactly where storable changes something', () => {
    for (const v of ['x', 'x\u0000', { a: ['\u0000'] }, { b: 'c' }, ['\u0000x'], 7]) {
      expect(hasNul(v)).toBe(JSON.stringify(storable(v)) !== JSON.stringify(v));
    }
  });
});
