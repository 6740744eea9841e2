import { describe, expect, it } from 'vitest';
import { TokenBuckets } from '../../../src/ingest/core/rate-limit.js';

describe('per-source token buckets', () => {
  it('allows the burst, then refuses with the seconds until the next token, then refills', () => {
    const buckets = new TokenBuckets(2, 3);
    const t0 = 1_000_000;
    expect([1, 2, 3].map(() => buckets.take('a', t0).ok)).toEqual([true, true, true]);
    expect(buckets.take('a', t0)).toEqual({ ok: false, retryAfterSeconds: 1 });
    // Another source has its own bucket.
    expect(buckets.take('b', t0).ok).toBe(true);
    // Half a second at 2/s refills one token.
    expect(buckets.take('a', t0 + 500).ok).toBe(true);
    expect(buckets.take('a', t0 + 500).ok).toBe(false);
    // Never more than the burst, however long the pause.
    const later = t0 + 3_600_000;
    expect([1, 2, 3, 4].map(() => buckets.take('a', later).ok)).toEqual([true, true, true, false]);
  });

  it('says how long to wait at slow rates', () => {
    const buckets = new TokenBuckets(0.1 as number, 1);
    expect(buckets.take('a', 0).ok).toBe(true);
    expect(buckets.take('a', 0)).toEqual({ ok: false, retryAfterSeconds: 10 });
  });

  it('peeks without taking, and forgets the oldest key past its bound (client-address buckets)', () => {
    const buckets = new TokenBuckets(1, 2, 2);
    expect(buckets.peek('a', 0)).toEqual({ ok: true });
    buckets.take('a', 0);
    buckets.take('a', 0);
    expect(buckets.peek('a', 0)).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(buckets.peek('a', 0)).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(buckets.peek('a', 1_000)).toEqual({ ok: true });
    // Two more keys: 'a', the oldest, is forgotten, and comes back with a full bucket.
    buckets.take('b', 0);
    buckets.take('c', 0);
    expect(buckets.peek('a', 0)).toEqual({ ok: true });
  });
});
