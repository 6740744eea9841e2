import { z } from 'zod';
import { NonRetriableError, RetryAfterError, StepError } from '../engine/core/step-error.js';
import { defineAction } from './action.js';
import { hostAllowed } from './allowlist.js';
import { callHttp, type HttpAnswer } from './http-call.js';

/**
 * `http.request`: one HTTP call to an allowlisted host (QUENCH_HTTP_ALLOWLIST). Every call
 * carries `Idempotency-Key` (one per step execution: the same across its retries, worker
 * takeovers and dead-letter re-drives), `Idempotency-Attempt` (the attempt number, 1-based)
 * and `X-Correlation-ID`, so a target that deduplicates sees each side effect once.
 * Redirects are not followed: a redirect to another host would bypass the allowlist. The
 * host name must pass the allowlist and the address it resolves to must be public or named
 * by the allowlist itself (./allowlist.ts); the answer is read up to 64 KiB (./http-call.ts).
 */
const MAX_BODY_BYTES = 64 * 1024;
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
        `http.request to ${url.host} refused: add the host to QUENCH_HTTP_ALLOWLIST (comma-separated host (ports 80/443), host:port, host:* or *.domain)`,
      );
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(params.headers)) headers[name.toLowerCase()] = value;
    headers['idempotency-key'] = ctx.idempotencyKey;
    headers['idempotency-attempt'] = String(ctx.attempt);
    headers['x-correlation-id'] = ctx.correlationId;
    let body: string | undefined;
    if (params.body !== undefined && params.method !== 'GET' && params.method !== 'HEAD') {
      body = typeof params.body === 'string' ? params.body : JSON.stringify(params.body);
      if (typeof params.body !== 'string' && !headers['content-type']) headers['content-type'] = 'application/json';
    }
    let answer: HttpAnswer;
    try {
      answer = await callHttp({
        url,
        method: params.method,
        headers,
        body,
        allowlist: ctx.config.QUENCH_HTTP_ALLOWLIST,
        maxBodyBytes: MAX_BODY_BYTES,
        signal: ctx.signal,
      });
    } catch (err) {
      if (err instanceof StepError) throw err;
      if (ctx.signal.aborted)
        throw new StepError('timeout', `http.request to ${url.host} aborted: ${String(ctx.signal.reason)}`, { retryable: true });
      const e = err as NodeJS.ErrnoException;
      // Node refuses malformed header names or values before sending: retrying cannot help.
      if (e.code?.startsWith('ERR_INVALID')) throw new NonRetriableError('invalid_request', `http.request to ${url.host}: ${e.message}`);
      throw new StepError(e.code ?? 'network', `http.request to ${url.host} failed: ${e.message}`, { retryable: true });
    }
    const { status, truncated } = answer;
    const raw = answer.body.toString('utf8');
    let parsed: unknown = raw;
    if ((headerText(answer.headers['content-type']) ?? '').includes('json') && !truncated) {
      try {
        parsed = JSON.parse(raw);
      } catch {
        parsed = raw;
      }
    }
    const output = { status: status, body: parsed, truncated };
    const ok = params.expectStatus ? params.expectStatus.includes(status) : status >= 200 && status < 300;
    if (ok) return output;
    const message = `${params.method} ${url.host}${url.pathname} answered ${status}`;
    const details = { status: status, body: typeof parsed === 'string' ? parsed.slice(0, 2048) : parsed };
    if (!RETRYABLE_STATUS.has(status)) throw new NonRetriableError(`http_${status}`, message, details);
    const retryAfter = retryAfterMs(headerText(answer.headers['retry-after']), ctx.clock.now().getTime());
    if (retryAfter !== undefined) throw new RetryAfterError(`http_${status}`, message, retryAfter, details);
    throw new StepError(`http_${status}`, message, { retryable: true, details });
  },
});

/** Retry-After is seconds or an HTTP date. */
function retryAfterMs(header: string | null, nowMs: number): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

function headerText(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}
