import { messageOf } from '../../core/errors.js';
/**
 * What a failed step attempt says about itself. Modelled on Inngest's NonRetriableError and
 * RetryAfterError: an action knows whether its failure is transient (a 503, a timeout, a reset
 * connection) or permanent (a 400, a bad argument); the engine retries only the former.
 */
export interface StepFailure {
  /** Stable, matchable code: `http_503`, `timeout`, `network`, `exit_1`, `circuit_open`, … */
  code: string;
  message: string;
  retryable: boolean;
  /** The target asked to be left alone this long (HTTP Retry-After). */
  retryAfterMs?: number;
  details?: Record<string, unknown>;
}

/** Base class actions throw; anything else thrown is treated as a retryable `error`. */
export class StepError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: { retryable: boolean; retryAfterMs?: number; details?: Record<string, unknown> }) {
    super(message);
    this.name = 'StepError';
    this.code = code;
    this.retryable = options.retryable;
    this.retryAfterMs = options.retryAfterMs;
    this.details = options.details;
  }
}

/** A failure retrying cannot fix: bad parameters, a 4xx answer, a refused allowlist. */
export class NonRetriableError extends StepError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(code, message, { retryable: false, ...(details ? { details } : {}) });
    this.name = 'NonRetriableError';
  }
}

/** A transient failure with a known earliest retry time. */
export class RetryAfterError extends StepError {
  constructor(code: string, message: string, retryAfterMs: number, details?: Record<string, unknown>) {
    super(code, message, { retryable: true, retryAfterMs, ...(details ? { details } : {}) });
    this.name = 'RetryAfterError';
  }
}

/**
 * Turns whatever an action threw into a failure record. Unknown errors are retryable: a bug
 * that fails every time exhausts its retries and lands in the dead-letter table, where it is
 * visible, instead of failing a run on one flaky exception.
 */
export function toStepFailure(err: unknown): StepFailure {
  if (err instanceof StepError) {
    return {
      code: err.code,
      message: err.message,
      retryable: err.retryable,
      ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}),
      ...(err.details ? { details: err.details } : {}),
    };
  }
  // Expression errors (playbooks/core/expressions.ts) carry a stable code: a budget overrun or
  // an oversized input fails the same way every time.
  if (err instanceof Error && err.name === 'ExpressionError' && typeof (err as { code?: unknown }).code === 'string') {
    return { code: (err as unknown as { code: string }).code, message: err.message, retryable: false };
  }
  const message = messageOf(err);
  return { code: 'error', message, retryable: true };
}
