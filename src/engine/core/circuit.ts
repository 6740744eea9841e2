/**
 * Circuit breaker per action target (an HTTP host, an exec command): after `failureThreshold`
 * consecutive failures it opens and refuses calls for `openMs`; then it half-opens and lets
 * exactly one probe through. The probe's success closes it; its failure opens it again.
 * Pure: the caller passes the time, so tests move it by hand.
 */
export interface BreakerOptions {
  failureThreshold: number;
  openMs: number;
  /**
   * How long a half-open probe may stay unanswered before another is let through; default
   * `openMs`. A probe whose outcome is never recorded (its worker lost the lease, shut down,
   * crashed) must not block the target for the life of the process.
   */
  probeMs?: number;
}

export const defaultBreakerOptions: BreakerOptions = { failureThreshold: 5, openMs: 30_000 };

export type BreakerState =
  | { state: 'closed'; failures: number }
  | { state: 'open'; until: number }
  | { state: 'half_open'; probeInFlight: boolean; probeUntil?: number };

export const closedBreaker: BreakerState = { state: 'closed', failures: 0 };

export type Admission = { allowed: true; next: BreakerState; probe: boolean } | { allowed: false; next: BreakerState; retryAtMs: number };

/** May a call go through now? Half-open admits a single probe until its outcome is recorded. */
export function admit(b: BreakerState, nowMs: number, options: BreakerOptions): Admission {
  if (b.state === 'closed') return { allowed: true, next: b, probe: false };
  const probe = { allowed: true as const, next: { state: 'half_open' as const, probeInFlight: true, probeUntil: nowMs + (options.probeMs ?? options.openMs) }, probe: true };
  if (b.state === 'open') {
    if (nowMs < b.until) return { allowed: false, next: b, retryAtMs: b.until };
    return probe;
  }
  if (b.probeInFlight && (b.probeUntil === undefined || nowMs < b.probeUntil))
    return { allowed: false, next: b, retryAtMs: Math.min(nowMs + Math.min(options.openMs, 1_000), b.probeUntil ?? Number.POSITIVE_INFINITY) };
  return probe;
}

/** A probe ended without an outcome about the target (lease lost, shutdown): let the next call probe. */
export function abandonProbe(b: BreakerState): BreakerState {
  return b.state === 'half_open' ? { state: 'half_open', probeInFlight: false } : b;
}

/**
 * Records an outcome. Only failures that speak about the target's health count (the caller
 * passes `countsAsFailure: false` for, say, a 400 caused by our own parameters).
 */
export function record(b: BreakerState, ok: boolean, nowMs: number, options: BreakerOptions): BreakerState {
  if (ok) return closedBreaker;
  if (b.state === 'half_open') return { state: 'open', until: nowMs + options.openMs };
  if (b.state === 'open') return b;
  const failures = b.failures + 1;
  return failures >= options.failureThreshold ? { state: 'open', until: nowMs + options.openMs } : { state: 'closed', failures };
}
