import { z } from 'zod';
import { NonRetriableError, RetryAfterError, StepError } from '../engine/core/step-error.js';
import { defineAction } from './action.js';
import { hostAllowed } from './allowlist.js';

/**
 * `http.request`: one HTTP call to an allowlisted host (QUENCH_HTTP_ALLOWLIST). Every call
 * carries `Idempotency-Key` (stable across retries of one attempt and across a worker
 * takeover) and `X-Correlation-ID`, so a target that deduplicates sees each side effect once.
 * Redirects are not followed: a redirect to another host would bypass the allowlist.
 */
const MAX_BODY_CHARS = 64 * 1024;
const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

export const httpRequestAction = defineAction({
  name: 'http.request',
  description: 'call an HTTP endpoint on an allowlisted host, with idempotency and correlation headers',
  changesState: true,
  params: z.strictObject({
    url: z.string().refine((v) => /^https?:\/\//.test(v) && URL.canParse(v), 'expected an http(s) URL'),
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
    headers: z.record(z.string(), z.string()).default({}),
    /** JSON-encoded unless it is a string. */
    body: z.unknown().optional(),
    /** Statuses that count as success; default any 2xx. */
    expectStatus: z.array(z.int().min(100).max(599)).optional(),
  }),
  target: (params) => `http:${new URL(params.url).host}`,
  async run(params, ctx) {
    const url = new URL(params.url);
    if (!hostAllowed(url, ctx.config.QUENCH_HTTP_ALLOWLIST)) {
      throw new NonRetriableError(
        'host_not_allowed',
        `http.request to ${url.host} refused: add the host to QUENCH_HTTP_ALLOWLIST (comma-separated hosts, host:port or *.domain)`,
      );
    }
    const headers = new Headers(params.headers);
    headers.set('Idempotency-Key', ctx.idempotencyKey);
    headers.set('X-Correlation-ID', ctx.correlationId);
    let body: string | undefined;
    if (params.body !== undefined && params.method !== 'GET' && params.method !== 'HEAD') {
      body = typeof params.body === 'string' ? params.body : JSON.stringify(params.body);
      if (typeof params.body !== 'string' && !headers.has('content-type')) headers.set('content-type', 'application/json');
    }
    let res: Response;
    try {
      res = await fetch(url, { method: params.method, headers, body, redirect: 'manual', signal: ctx.signal });
    } catch (err) {
      if (ctx.signal.aborted)
        throw new StepError('timeout', `http.request to ${url.host} aborted: ${String(ctx.signal.reason)}`, { retryable: true });
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new StepError(cause?.code ?? 'network', `http.request to ${url.host} failed: ${cause?.message ?? (err as Error).message}`, {
        retryable: true,
      });
    }
    const text = await res.text();
    const truncated = text.length > MAX_BODY_CHARS;
    const raw = truncated ? text.slice(0, MAX_BODY_CHARS) : text;
    let parsed: unknown = raw;
    if ((res.headers.get('content-type') ?? '').includes('json') && !truncated) {
      try {
        parsed = JSON.parse(raw);
      } catch {
        parsed = raw;
      }
    }
    const output = { status: res.status, body: parsed, truncated };
    const ok = params.expectStatus ? params.expectStatus.includes(res.status) : res.status >= 200 && res.status < 300;
    if (ok) return output;
    const message = `${params.method} ${url.host}${url.pathname} answered ${res.status}`;
    const details = { status: res.status, body: typeof parsed === 'string' ? parsed.slice(0, 2048) : parsed };
    if (!RETRYABLE_STATUS.has(res.status)) throw new NonRetriableError(`http_${res.status}`, message, details);
    const retryAfter = retryAfterMs(res.headers.get('retry-after'), ctx.clock.now().getTime());
    if (retryAfter !== undefined) throw new RetryAfterError(`http_${res.status}`, message, retryAfter, details);
    throw new StepError(`http_${res.status}`, message, { retryable: true, details });
  },
});

/** Retry-After is seconds or an HTTP date. */
function retryAfterMs(header: string | null, nowMs: number): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
