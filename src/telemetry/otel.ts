import type { IncomingMessage } from 'node:http';
import { type Attributes, type Context, context, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  ATTR_URL_FULL,
} from '@opentelemetry/semantic-conventions';

/**
 * OpenTelemetry by the book: the Node SDK configured by the standard variables
 * (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT,
 * OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL, _HEADERS, OTEL_TRACES_SAMPLER[_ARG], OTEL_PROPAGATORS,
 * OTEL_SDK_DISABLED, …). Traces only: metrics stay on /metrics, logs on stdout. Nothing starts
 * unless a traces exporter is configured; then the API stays a no-op and every helper here
 * returns at its first line, so the request path pays one boolean test.
 */
let enabled = false;

export const tracingEnabled = (): boolean => enabled;

/** Whether the environment asks for trace export at all (an OTLP endpoint, or a named exporter). */
export function tracesWanted(env: NodeJS.ProcessEnv): boolean {
  if (/^\s*true\s*$/i.test(env.OTEL_SDK_DISABLED ?? '')) return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (exporters.includes('none')) return false;
  return exporters.length > 0 || Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT);
}

/** Starts the SDK when the environment asks for traces; returns the shutdown that flushes pending spans. */
export function startTracing(env: NodeJS.ProcessEnv = process.env): (() => Promise<void>) | undefined {
  if (enabled || !tracesWanted(env)) return undefined;
  const sdk = new NodeSDK({
    // "quench" unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES say otherwise (detected resources win).
    resource: defaultResource().merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'quench' })),
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  enabled = true;
  return async () => {
    enabled = false;
    await sdk.shutdown();
  };
}

/** W3C trace context of the active span (to store with work that continues later), or {} when off. */
export function activeTraceHeaders(): Record<string, string> {
  if (!enabled) return {};
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

/** Runs `fn` inside the trace context carried by stored headers (traceparent/tracestate). */
export function withCarriedContext<T>(headers: Record<string, unknown> | undefined, fn: () => T): T {
  if (!enabled || typeof headers?.traceparent !== 'string') return fn();
  return context.with(propagation.extract(context.active(), headers), fn);
}

/** Trace and span ids of the active span for JSON log lines (pino mixin). */
export function logTraceFields(): Record<string, string> {
  if (!enabled) return {};
  const span = trace.getActiveSpan();
  if (!span) return {};
  const c = span.spanContext();
  return { trace_id: c.traceId, span_id: c.spanId, trace_flags: `0${c.traceFlags.toString(16)}`.slice(-2) };
}

/** `error.type` for a failure: a status code for HTTP answers, else the error's code or class. */
export function errorType(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown } | undefined;
  if (typeof e?.code === 'string' && e.code) return e.code;
  return typeof e?.name === 'string' && e.name ? e.name : '_OTHER';
}

const tracer = () => trace.getTracer('quench');

/**
 * A client span around one outgoing HTTP call (semantic conventions for HTTP clients): the
 * trace context goes out in `headers`, the answer's status becomes `http.response.status_code`,
 * and a 4xx/5xx or a thrown error becomes `error.type`. The query string is left out of
 * `url.full`: it can carry secrets.
 */
export async function httpClientSpan<T>(
  call: { method: string; url: URL; attributes?: Attributes },
  headers: Record<string, string>,
  fn: () => Promise<T>,
  statusOf: (answer: T) => number,
): Promise<T> {
  if (!enabled) return fn();
  const method = call.method.toUpperCase();
  const span = tracer().startSpan(method, {
    kind: SpanKind.CLIENT,
    attributes: {
      [ATTR_HTTP_REQUEST_METHOD]: method,
      [ATTR_URL_FULL]: `${call.url.origin}${call.url.pathname}`,
      [ATTR_SERVER_ADDRESS]: call.url.hostname,
      [ATTR_SERVER_PORT]: Number(call.url.port) || (call.url.protocol === 'https:' ? 443 : 80),
      ...call.attributes,
    },
  });
  const ctx = trace.setSpan(context.active(), span);
  propagation.inject(ctx, headers);
  try {
    const answer = await context.with(ctx, fn);
    const status = statusOf(answer);
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
    if (status >= 400) {
      span.setAttribute(ATTR_ERROR_TYPE, String(status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    return answer;
  } catch (err) {
    failed(span, err);
    throw err;
  } finally {
    span.end();
  }
}

/** A span around an internal operation (a Slack or PagerDuty API call made by a client library). */
export async function clientSpan<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  if (!enabled) return fn();
  const span = tracer().startSpan(name, { kind: SpanKind.CLIENT, attributes });
  try {
    return await context.with(trace.setSpan(context.active(), span), fn);
  } catch (err) {
    failed(span, err);
    throw err;
  } finally {
    span.end();
  }
}

function failed(span: Span, err: unknown): void {
  span.setAttribute(ATTR_ERROR_TYPE, errorType(err));
  span.recordException(err as Error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
}

/** A server span for one request, parented to the caller's trace context (traceparent header). */
export function startServerSpan(req: IncomingMessage, method: string): { span: Span; ctx: Context } | undefined {
  if (!enabled) return undefined;
  const parent = propagation.extract(ROOT_CONTEXT, req.headers);
  const host = req.headers.host ?? '';
  const colon = host.lastIndexOf(':');
  const span = tracer().startSpan(
    method,
    {
      kind: SpanKind.SERVER,
      attributes: {
        [ATTR_HTTP_REQUEST_METHOD]: method,
        [ATTR_URL_SCHEME]: 'http',
        [ATTR_URL_PATH]: (req.url ?? '/').split('?')[0]!.slice(0, 200),
        ...(host ? { [ATTR_SERVER_ADDRESS]: colon > 0 && !host.endsWith(']') ? host.slice(0, colon) : host } : {}),
        ...(colon > 0 && Number(host.slice(colon + 1)) ? { [ATTR_SERVER_PORT]: Number(host.slice(colon + 1)) } : {}),
        ...(req.socket.remoteAddress ? { [ATTR_CLIENT_ADDRESS]: req.socket.remoteAddress } : {}),
        ...(req.headers['user-agent'] ? { [ATTR_USER_AGENT_ORIGINAL]: req.headers['user-agent'].slice(0, 200) } : {}),
        [ATTR_NETWORK_PROTOCOL_VERSION]: req.httpVersion,
      },
    },
    parent,
  );
  return { span, ctx: trace.setSpan(parent, span) };
}

/** Ends a server span: the route template names it; a 5xx (or a failure) sets `error.type`. */
export function endServerSpan(span: Span, method: string, route: string | undefined, status: number, failure?: unknown): void {
  if (route) {
    span.setAttribute(ATTR_HTTP_ROUTE, route);
    span.updateName(`${method} ${route}`);
  }
  span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
  if (status >= 500) {
    span.setAttribute(ATTR_ERROR_TYPE, failure ? errorType(failure) : String(status));
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}

/** `fetch` with a client span per call (Prometheus, PagerDuty): the same function when tracing is off. */
export function tracedFetch(fetchFn: typeof fetch = fetch, attributes?: Attributes): typeof fetch {
  return (input, init) => {
    if (!enabled) return fetchFn(input, init);
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((v, k) => (headers[k] = v));
    return httpClientSpan({ method, url, attributes }, headers, () => fetchFn(input, { ...init, headers }), (r) => r.status);
  };
}
