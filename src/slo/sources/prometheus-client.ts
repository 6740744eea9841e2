import { z } from 'zod';
import { QuenchError } from '../../core/errors.js';
import { tracedFetch } from '../../telemetry/otel.js';

/**
 * A small client for Prometheus' HTTP API instant queries (`POST /api/v1/query`, form-encoded so
 * long PromQL never hits URL limits). It retries only what is known to be transient: 503
 * (`unavailable`, e.g. too many concurrent queries), 502/504 and connection failures, with
 * exponential back-off. Query errors (`bad_data`, `execution`) are never retried: the same query
 * would fail the same way.
 */
const sampleValue = z.tuple([z.number(), z.string()]);

const responseSchema = z.object({
  status: z.enum(['success', 'error']),
  data: z
    .object({
      resultType: z.enum(['vector', 'scalar', 'matrix', 'string']),
      result: z.unknown(),
    })
    .optional(),
  errorType: z.string().optional(),
  error: z.string().optional(),
  warnings: z.array(z.string()).optional(),
});

const vectorSchema = z.array(z.object({ metric: z.record(z.string(), z.string()), value: sampleValue }));

export interface Sample {
  labels: Record<string, string>;
  /** NaN and ±Infinity arrive as strings ("NaN", "+Inf") and are kept as such numbers. */
  value: number;
}

export interface PrometheusClientOptions {
  baseUrl: string;
  /** Per attempt; also sent to Prometheus as the query `timeout`. */
  timeoutMs?: number;
  /** Attempts after the first for transient failures. */
  retries?: number;
  /** First back-off; doubled on each retry. */
  backoffMs?: number;
  /** Injected in tests so retries do not sleep. */
  sleep?: (ms: number) => Promise<void>;
  headers?: Record<string, string>;
}

export function parseSampleValue(text: string): number {
  if (text === 'NaN') return Number.NaN;
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  const n = Number(text);
  if (Number.isNaN(n))
    throw new QuenchError('prometheus_query_failed', `Prometheus returned a sample value that is not a number: ${JSON.stringify(text)}`);
  return n;
}

const RETRYABLE_STATUS = new Set([502, 503, 504]);

class Transient extends Error {}

export class PrometheusClient {
  readonly #base: string;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #backoffMs: number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #headers: Record<string, string>;

  constructor(options: PrometheusClientOptions) {
    this.#base = options.baseUrl.replace(/\/+$/, '');
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#retries = options.retries ?? 3;
    this.#backoffMs = options.backoffMs ?? 200;
    this.#sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.#headers = options.headers ?? {};
  }

  get baseUrl(): string {
    return this.#base;
  }

  /** An instant query; returns the vector (a scalar becomes one unlabelled sample). */
  async query(expr: string, at?: Date, signal?: AbortSignal): Promise<Sample[]> {
    let lastError: Error | undefined;
    for (let attempt = 0; attempt <= this.#retries; attempt++) {
      if (attempt > 0) await this.#sleep(this.#backoffMs * 2 ** (attempt - 1));
      signal?.throwIfAborted();
      try {
        return await this.#once(expr, at, signal);
      } catch (err) {
        if (!(err instanceof Transient)) throw err;
        lastError = err;
      }
    }
    throw new QuenchError(
      'prometheus_unavailable',
      `Prometheus at ${this.#base} stayed unavailable after ${this.#retries + 1} attempts: ${lastError?.message}. Check PROMETHEUS_URL and Prometheus' query concurrency (--query.max-concurrency)`,
      { cause: lastError },
    );
  }

  async #once(expr: string, at: Date | undefined, signal: AbortSignal | undefined): Promise<Sample[]> {
    const form = new URLSearchParams({ query: expr, timeout: `${Math.max(1, Math.floor(this.#timeoutMs / 1000))}s` });
    if (at) form.set('time', (at.getTime() / 1000).toFixed(3));
    let res: Response;
    try {
      // A client span per query when tracing is on (src/telemetry/otel.ts).
      res = await tracedFetch()(`${this.#base}/api/v1/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...this.#headers },
        body: form,
        signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(this.#timeoutMs)]) : AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      const e = err as Error;
      // Our caller gave up (the SLO's time limit): not Prometheus' fault, and not worth a retry.
      if (signal?.aborted) throw signal.reason;
      if (e.name === 'TimeoutError') throw new Transient(`no answer within ${this.#timeoutMs} ms`);
      throw new Transient(`cannot reach it (${(e.cause as Error | undefined)?.message ?? e.message})`);
    }
    const text = await res.text().catch(() => '');
    if (RETRYABLE_STATUS.has(res.status)) throw new Transient(`HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`);
    let body: z.infer<typeof responseSchema>;
    try {
      body = responseSchema.parse(JSON.parse(text));
    } catch {
      throw new QuenchError(
        'prometheus_query_failed',
        `Prometheus at ${this.#base} answered HTTP ${res.status} with a body that is not its API's JSON: ${text.slice(0, 200)}`,
      );
    }
    if (body.status === 'error') {
      // 'timeout' and 'unavailable' can pass on a retry; bad_data and execution cannot.
      if (body.errorType === 'timeout' || body.errorType === 'unavailable') throw new Transient(`${body.errorType}: ${body.error}`);
      throw new QuenchError(
        'prometheus_query_failed',
        `Prometheus rejected the query (${body.errorType ?? `HTTP ${res.status}`}): ${body.error ?? 'no message'}`,
        {
          details: { errorType: body.errorType, query: expr },
        },
      );
    }
    if (!res.ok) throw new QuenchError('prometheus_query_failed', `Prometheus answered HTTP ${res.status}`);
    const data = body.data;
    if (!data) return [];
    if (data.resultType === 'scalar') {
      const [, v] = sampleValue.parse(data.result);
      return [{ labels: {}, value: parseSampleValue(v) }];
    }
    if (data.resultType !== 'vector')
      throw new QuenchError('prometheus_query_failed', `expected an instant vector, got a ${data.resultType}`);
    return vectorSchema.parse(data.result).map((s) => ({ labels: s.metric, value: parseSampleValue(s.value[1]) }));
  }
}
