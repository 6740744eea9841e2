import { describe, expect, it } from 'vitest';
import { storable, storageProblem } from '../../../src/engine/core/storable.js';

describe('storageProblem', () => {
  it('names unpaired surrogates and BigInts, which jsonb and JSON refuse, and passes whole pairs', () => {
    expect(storageProblem({ m: '😀 down'.substring(0, 1) })).toMatch(/unpaired UTF-16 surrogate/);
    expect(storageProblem(['ok', { ['\udc00']: 1 }])).toMatch(/unpaired UTF-16 surrogate/);
    expect(storageProblem({ n: 10n })).toMatch(/BigInt/);
    expect(storageProblem({ m: 'a\u0000' })).toBe('a NUL character (\\u0000)');
    expect(storageProblem({ m: '😀 checkout is down', k: ['ü', '𝄞'] })).toBeUndefined();
    expect(storable('x\ud800y\udfff')).toBe('x\ufffdy\ufffd');
  });

  it('finds a NUL in strings, keys and nested values, and only a real one', () => {
    expect(storageProblem('a\u0000b')).toBeDefined();
    expect(storageProblem({ deep: [{ x: 'ok' }, { y: 'a\u0000' }] })).toBeDefined();
    expect(storageProblem({ ['k\u0000']: 1 })).toBeDefined();
    // The six characters backslash-u-0-0-0-0 are text, not a NUL.
    expect(storageProblem({ message: '\\u0000' })).toBeUndefined();
    expect(storageProblem({ n: 1, ok: [true, null, 'plain'] })).toBeUndefined();
    expect(storageProblem(new Date(0))).toBeUndefined();
  });

  it('says true exactly where storable changes something', () => {
    for (const v of ['x', 'x\u0000', { a: ['\u0000'] }, { b: 'c' }, ['\u0000x'], 7, '\ud83d', { ['\ude00k']: 1 }, '😀 whole', ['😀'.substring(0, 1)]]) {
      expect(storageProblem(v) !== undefined).toBe(JSON.stringify(storable(v)) !== JSON.stringify(v));
    }
  });
});
