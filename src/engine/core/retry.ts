import type { StepFailure } from './step-error.js';

/**
 * Retry policy: exponential back-off with full jitter (AWS Architecture Blog, "Exponential
 * Backoff and Jitter"): the delay before attempt n+1 is uniform in [0, min(max, initial ·
 * multiplier^(n-1))]. Full jitter spreads the retries of many runs that failed together
 * (one outage, hundreds of runs) instead of having them hit the recovering target in waves.
 */
export interface RetryPolicy {
  /** Attempts in total, the first included (1 = no retry). */
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  multiplier: number;
  /** When set, only failures with these codes (or code prefixes ending in `*`) are retried. */
  retryOn?: string[];
}

export const defaultRetryPolicy: RetryPolicy = { maxAttempts: 3, initialDelayMs: 1_000, maxDelayMs: 60_000, multiplier: 2 };

/** Compensations must not give up easily: they undo what is already done. */
export const defaultCompensationRetryPolicy: RetryPolicy = { maxAttempts: 5, initialDelayMs: 1_000, maxDelayMs: 60_000, multiplier: 2 };

/** The upper bound of the jittered delay after `attempt` failed attempts (attempt ≥ 1). */
export function backoffCeilingMs(policy: RetryPolicy, attempt: number): number {
  const exponential = policy.initialDelayMs * policy.multiplier ** Math.max(0, attempt - 1);
  return Math.min(policy.maxDelayMs, exponential);
}

/** Full jitter: `random` is injected (Math.random in production, a sequence in tests). */
export function jitteredDelayMs(policy: RetryPolicy, attempt: number, random: () => number): number {
  const r = Math.min(Math.max(random(), 0), 1 - Number.EPSILON);
  return Math.floor(r * (backoffCeilingMs(policy, attempt) + 1));
}

export function isRetryable(policy: RetryPolicy, failure: StepFailure): boolean {
  if (!failure.retryable) return false;
  if (!policy.retryOn || policy.retryOn.length === 0) return true;
  return policy.retryOn.some((pattern) => codePattern(pattern).test(failure.code));
}

/** `http_503` exactly, `http_5xx` for a class of statuses, `ECONN*` for a prefix. */
function codePattern(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${escaped.replace(/xx$/, '\\d\\d').replace(/\*/g, '.*')}$`);
}

export type RetryDecision = { retry: true; delayMs: number } | { retry: false; reason: 'non_retryable' | 'exhausted' | 'step_deadline' };

/**
 * After attempt number `attempt` (1-based) failed: retry, and when, or give up. A retry that
 * would start after the step's own deadline is pointless, so it gives up instead.
 */
export function decideRetry(
  policy: RetryPolicy,
  attempt: number,
  failure: StepFailure,
  random: () => number,
  options: { nowMs?: number; deadlineMs?: number | null } = {},
): RetryDecision {
  if (!isRetryable(policy, failure)) return { retry: false, reason: 'non_retryable' };
  if (attempt >= policy.maxAttempts) return { retry: false, reason: 'exhausted' };
  const jittered = jitteredDelayMs(policy, attempt, random);
  // Retry-After is the target's own statement of when it can cope: honour it as a floor.
  const delayMs = Math.max(jittered, failure.retryAfterMs ?? 0);
  if (options.deadlineMs != null && options.nowMs !== undefined && options.nowMs + delayMs >= options.deadlineMs) {
    return { retry: false, reason: 'step_deadline' };
  }
  return { retry: true, delayMs };
}
