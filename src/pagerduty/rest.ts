import { api } from '@pagerduty/pdjs';
import type { APIParameters, APIResponse } from '@pagerduty/pdjs/build/src/api.js';
import { z } from 'zod';
import { QuenchError } from '../core/errors.js';

/**
 * PagerDuty's REST API through @pagerduty/pdjs. pdjs's `server` option only takes a host name
 * and always prefixes `https://`, so we pass a full `url` built from PAGERDUTY_API_URL instead
 * (which is also how tests reach the local fake over http). pdjs retries 429s itself.
 * Each response we read has its own schema (PagerDuty's documented shapes, extra fields kept).
 */
export const PAGERDUTY_API_DEFAULT_URL = 'https://api.pagerduty.com';

const reference = z.looseObject({ id: z.string(), type: z.string(), summary: z.string().optional() });

export const oncallsResponse = z.looseObject({
  oncalls: z.array(
    z.looseObject({
      escalation_policy: reference,
      escalation_level: z.number().int(),
      schedule: reference.nullable().optional(),
      user: reference,
    }),
  ),
});

export const userResponse = z.looseObject({
  user: z.looseObject({ id: z.string(), name: z.string(), email: z.string() }),
});

export const escalationPolicyResponse = z.looseObject({
  escalation_policy: z.looseObject({
    id: z.string(),
    name: z.string(),
    escalation_rules: z.array(z.looseObject({ escalation_delay_in_minutes: z.number(), targets: z.array(reference) })),
  }),
});

export const incidentsResponse = z.looseObject({
  incidents: z.array(z.looseObject({ id: z.string(), status: z.string(), incident_key: z.string().nullable().optional() })),
});

export const noteResponse = z.looseObject({ note: z.looseObject({ id: z.string(), content: z.string() }) });

export class PagerDutyRest {
  readonly #base: string;
  readonly #token: string;

  constructor(options: { token: string; baseUrl?: string | undefined }) {
    this.#base = options.baseUrl ?? PAGERDUTY_API_DEFAULT_URL;
    this.#token = options.token;
  }

  async get<S extends z.ZodType>(path: string, schema: S, query: Record<string, string | string[]> = {}): Promise<z.infer<S>> {
    return this.#call('GET', path, schema, { queryParameters: query });
  }

  async post<S extends z.ZodType>(path: string, schema: S, data: object, headers: Record<string, string> = {}): Promise<z.infer<S>> {
    return this.#call('POST', path, schema, { data, headers });
  }

  async #call<S extends z.ZodType>(
    method: string,
    path: string,
    schema: S,
    extra: { queryParameters?: Record<string, string | string[]>; data?: object; headers?: Record<string, string> },
  ): Promise<z.infer<S>> {
    const url = `${this.#base}/${path.replace(/^\/+/, '')}`;
    let response: APIResponse;
    try {
      // requestTimeout 0: pdjs's own timer never aborts anything, it only keeps the process alive.
      response = await api({
        url,
        token: this.#token,
        method,
        requestTimeout: 0,
        retryTimeout: 5000,
        signal: AbortSignal.timeout(20_000),
        ...extra,
      } as APIParameters);
    } catch (err) {
      // pdjs rejects with the Response itself when the body is not JSON.
      const status = (err as { status?: number }).status;
      if (typeof status === 'number') throw statusError(method, path, status, '');
      throw new QuenchError('internal', `PagerDuty REST API unreachable at ${this.#base}: ${(err as Error).message}`, {
        cause: err,
        details: { retryable: true },
      });
    }
    if (!response.ok) throw statusError(method, path, response.status, describe(response.data));
    const parsed = schema.safeParse(response.data);
    if (!parsed.success) {
      throw new QuenchError(
        'internal',
        `PagerDuty ${method} ${path} answered in an unexpected shape: ${parsed.error.issues[0]?.message ?? ''}`,
      );
    }
    return parsed.data;
  }
}

function describe(data: unknown): string {
  const error = (data as { error?: { message?: string; errors?: string[] } } | undefined)?.error;
  return [error?.message, ...(error?.errors ?? [])].filter(Boolean).join('; ');
}

function statusError(method: string, path: string, status: number, reason: string): QuenchError {
  const what = `PagerDuty ${method} ${path} failed with ${status}${reason ? ` (${reason})` : ''}`;
  if (status === 401 || status === 403)
    return new QuenchError('forbidden', `${what}: check PAGERDUTY_TOKEN (a REST API key with read access)`, {
      details: { retryable: false },
    });
  if (status === 404)
    return new QuenchError('not_found', `${what}: check the id in the playbook's assign section`, { details: { retryable: false } });
  if (status === 429)
    return new QuenchError('rate_limited', `${what}: rate limited`, { details: { retryable: true, retryAfterSeconds: 30 } });
  return new QuenchError(status >= 500 ? 'internal' : 'validation_failed', what, { details: { retryable: status >= 500 } });
}
