import { describe, expect, it } from 'vitest';
import { isConnectionError } from '../../../src/engine/complete.js';
import { storable } from '../../../src/engine/core/storable.js';

describe('recording results', () => {
  it('tells a database that went away from an error about the data', () => {
    expect(isConnectionError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('ended'), { code: 'CONNECTION_ENDED' }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('write CONNECT_TIMEOUT'), { code: 'CONNECT_TIMEOUT' }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('shutdown'), { code: '57P01' }))).toBe(true);
    // Wrapped, as the audit trail and drizzle wrap driver errors.
    expect(isConnectionError(new Error('audit append failed', { cause: Object.assign(new Error('x'), { code: '08006' }) }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('bad json'), { code: '22P05' }))).toBe(false);
    expect(isConnectionError(new Error('plain'))).toBe(false);
  });

  it('makes outputs storable in jsonb: NUL in strings and keys becomes U+FFFD, dates pass through', () => {
    const at = new Date(0);
    expect(storable({ 'k\u0000': ['a\u0000b', 1, null, { x: 'y' }], at })).toEqual({ 'k\uFFFD': ['a\uFFFDb', 1, null, { x: 'y' }], at });
    expect(storable({ at }).at).toBe(at);
  });
});
