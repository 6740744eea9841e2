import { describe, expect, it } from 'vitest';
import { backoffCeilingMs, decideRetry, isRetryable, jitteredDelayMs, type RetryPolicy } from '../../../src/engine/core/retry.js';
import { NonRetriableError, RetryAfterError, StepError, toStepFailure } from '../../../src/engine/core/step-error.js';

const policy: RetryPolicy = { maxAttempts: 4, initialDelayMs: 100, maxDelayMs: 1_000, multiplier: 2 };
const transient = { code: 'http_503', message: 'busy', retryable: true };

describe('retry policy', () => {
  it('grows the ceiling exponentially up to the maximum', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffCeilingMs(policy, n))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffCeilingMs({ ...policy, multiplier: 1 }, 5)).toBe(100);
  });

  it('draws the delay uniformly from [0, ceiling] (full jitter)', () => {
    expect(jitteredDelayMs(policy, 3, () => 0)).toBe(0);
    expect(jitteredDelayMs(policy, 3, () => 0.5)).toBe(200);
    expect(jitteredDelayMs(policy, 3, () => 0.99999)).toBe(400);
    const samples = Array.from({ length: 2000 }, (_, i) => jitteredDelayMs(policy, 2, () => i / 2000));
    expect(Math.min(...samples)).toBe(0);
    expect(Math.max(...samples)).toBe(200);
  });

  it('retries transient failures until the attempts are used up', () => {
    expect(decideRetry(policy, 1, transient, () => 0.5)).toEqual({ retry: true, delayMs: 50 });
    expect(decideRetry(policy, 3, transient, () => 0.5)).toEqual({ retry: true, delayMs: 200 });
    expect(decideRetry(policy, 4, transient, () => 0.5)).toEqual({ retry: false, reason: 'exhausted' });
  });

  it('never retries what says it is not retryable', () => {
    expect(decideRetry(policy, 1, toStepFailure(new NonRetriableError('http_400', 'bad')), () => 0)).toEqual({
      retry: false,
      reason: 'non_retryable',
    });
  });

  it('takes Retry-After as a floor', () => {
    expect(decideRetry(policy, 1, toStepFailure(new RetryAfterError('http_429', 'slow down', 5_000)), () => 0.1)).toEqual({
      retry: true,
      delayMs: 5_000,
    });
  });

  it('gives up when the retry would start after the step deadline', () => {
    expect(decideRetry(policy, 1, transient, () => 0.99, { nowMs: 1_000, deadlineMs: 1_050 })).toEqual({
      retry: false,
      reason: 'step_deadline',
    });
    expect(decideRetry(policy, 1, transient, () => 0.1, { nowMs: 1_000, deadlineMs: 1_050 })).toEqual({ retry: true, delayMs: 10 });
  });

  it('limits retries to the listed error codes and classes', () => {
    const only = { ...policy, retryOn: ['timeout', 'http_5xx', 'ECONN*'] };
    expect(isRetryable(only, { ...transient, code: 'http_502' })).toBe(true);
    expect(isRetryable(only, { ...transient, code: 'timeout' })).toBe(true);
    expect(isRetryable(only, { ...transient, code: 'ECONNRESET' })).toBe(true);
    expect(isRetryable(only, { ...transient, code: 'http_429' })).toBe(false);
    expect(isRetryable(only, { ...transient, code: 'exit_1' })).toBe(false);
  });

  it('treats unknown thrown errors as retryable, coded errors as they say', () => {
    expect(toStepFailure(new Error('boom'))).toEqual({ code: 'error', message: 'boom', retryable: true });
    expect(toStepFailure(new StepError('exit_2', 'x', { retryable: false }))).toMatchObject({ code: 'exit_2', retryable: false });
  });
});
