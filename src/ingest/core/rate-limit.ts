/**
 * A token bucket per key: `ratePerSecond` tokens refill continuously up to `burst`. Pure: the
 * caller passes the time, so tests drive it with a manual clock. Source buckets have one key
 * per configured source; failed-authentication buckets are keyed by client address, which a
 * caller chooses, so at most `maxKeys` are kept (the oldest go first; a forgotten bucket is a
 * full one, which costs an attacker nothing new).
 */
export type Take = { ok: true } | { ok: false; retryAfterSeconds: number };

/** The answer when a token is there: one shared (frozen) object, not a new one per request. */
const OK: Take = Object.freeze({ ok: true });

export class TokenBuckets {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    readonly maxKeys = 100_000,
  ) {}

  /** Takes one token; when none is left, says how many seconds until one is. */
  take(key: string, nowMs: number): Take {
    const bucket = this.#refill(key, nowMs);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return OK;
    }
    return this.#wait(bucket.tokens);
  }

  /** Whether a token is left, without taking it (checked before work that may or may not be charged). */
  peek(key: string, nowMs: number): Take {
    const bucket = this.#buckets.get(key);
    if (!bucket) return OK;
    const tokens = Math.min(this.burst, bucket.tokens + (Math.max(0, nowMs - bucket.at) / 1000) * this.ratePerSecond);
    return tokens >= 1 ? OK : this.#wait(tokens);
  }

  #refill(key: string, nowMs: number) {
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      if (this.#buckets.size >= this.maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
      bucket = { tokens: this.burst, at: nowMs };
      this.#buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + (Math.max(0, nowMs - bucket.at) / 1000) * this.ratePerSecond);
    bucket.at = nowMs;
    return bucket;
  }

  #wait(tokens: number): Take {
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / this.ratePerSecond)) };
  }
}

/**
 * The key a client's failed authentications are counted under: its IPv4 address, or the /64
 * prefix of an IPv6 one (one host usually holds a whole /64, so single addresses are free to
 * it). The socket's address, never X-Forwarded-For, which any caller can write.
 */
export function clientKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
