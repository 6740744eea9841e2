/**
 * Errors an operator sees are values with a stable code and a message that says what to do.
 * Modelled on Bolt's ErrorCode enum: one code per failure a user can act on, and
 * `asQuenchError()` to wrap the unknown at the edges.
 */
export type ErrorCode =
  | 'config_invalid'
  | 'database_unavailable'
  | 'migration_failed'
  | 'data_dir_locked'
  | 'audit_chain_broken'
  | 'audit_append_failed'
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'validation_failed'
  | 'usage'
  | 'prometheus_unavailable'
  | 'prometheus_query_failed'
  | 'slo_source_missing'
  | 'slack_unavailable'
  | 'internal';

export class QuenchError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'QuenchError';
    this.code = code;
    this.details = options?.details;
  }
}

export function isQuenchError(err: unknown, code?: ErrorCode): err is QuenchError {
  return err instanceof QuenchError && (code === undefined || err.code === code);
}

/** What a thrown value says: an error's message (or any object's string `message`), else the value as text. */
export function messageOf(err: unknown): string {
  const message = (err as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' ? message : String(err);
}

export function asQuenchError(err: unknown): QuenchError {
  if (err instanceof QuenchError) return err;
  return new QuenchError('internal', messageOf(err), { cause: err });
}

/** HTTP status for each code, used by the HTTP adapter only. */
export const httpStatusOf: Record<ErrorCode, number> = {
  config_invalid: 500,
  database_unavailable: 503,
  slack_unavailable: 503,
  migration_failed: 503,
  data_dir_locked: 503,
  audit_chain_broken: 500,
  audit_append_failed: 503,
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  validation_failed: 400,
  usage: 400,
  prometheus_unavailable: 503,
  prometheus_query_failed: 502,
  slo_source_missing: 503,
  internal: 500,
};
