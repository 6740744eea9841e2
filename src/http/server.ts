import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { context, type Span } from '@opentelemetry/api';
import type { z } from 'zod';
import { asQuenchError, httpStatusOf, QuenchError } from '../core/errors.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { endServerSpan, startServerSpan } from '../telemetry/otel.js';
import type { TokenAuthenticator } from './auth.js';
import { parseWith } from './body.js';
import { newRequestId } from './request-id.js';
import type { Reply, RequestContext, Router } from './router.js';
import { answerClientError, methodLabel, parseTarget, writeRaw } from './target.js';

export interface HttpServer {
  readonly server: Server;
  listen(port: number, host?: string): Promise<number>;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes sockets. */
  close(graceMs?: number): Promise<void>;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

type Observer = { observe(seconds: number): void };

/**
 * A request's context. A class, so `log` is a prototype getter: an accessor in an object literal
 * made every context a slow dictionary object (the gate bench showed ~10 µs per request more).
 */
class Context implements RequestContext {
  constructor(
    readonly req: IncomingMessage,
    readonly method: string,
    readonly path: string,
    readonly params: Record<string, string>,
    readonly query: URLSearchParams,
    readonly requestId: string,
    readonly user: string | undefined,
    private readonly makeLog: () => Logger,
  ) {}

  /** The request's child logger, made on first use: most requests log nothing below `info`. */
  get log(): Logger {
    return this.makeLog();
  }
}

export function createHttpServer(deps: { router: Router; auth: TokenAuthenticator; logger: Logger; metrics: Metrics }): HttpServer {
  const { router, auth, logger, metrics } = deps;
  // One bound histogram child per method/route/status (all bounded sets): no label hashing per request.
  // Keyed route → method → status, not by a key string built (and flattened) per request.
  const observers = new Map<string, Map<string, Map<number, Observer>>>();
  const observerFor = (method: string, route: string, status: number): Observer => {
    let byMethod = observers.get(route);
    if (!byMethod) observers.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, (byStatus = new Map()));
    let observer = byStatus.get(status);
    if (!observer) {
      observer = metrics.httpRequestDuration.labels(method, route, String(status));
      byStatus.set(status, observer);
    }
    return observer;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, span: Span | undefined) => {
    const started = performance.now();
    const incomingId = req.headers['x-request-id'];
    const requestId = typeof incomingId === 'string' && REQUEST_ID.test(incomingId) ? incomingId : newRequestId();
    // The request's child logger is made on first use: most requests log nothing below `info`.
    let child: Logger | undefined;
    const log = () => (child ??= logger.child({ requestId }));
    const method = req.method ?? 'GET';
    // Logged before it is parsed: a target that does not parse must still be traceable (capped, never trusted).
    let path = (req.url ?? '/').slice(0, 200);
    let routeLabel = 'unmatched';
    let failure: unknown;

    res.on('finish', () => {
      const ms = performance.now() - started;
      const label = methodLabel(method);
      observerFor(label, routeLabel, res.statusCode).observe(ms / 1000);
      if (span) endServerSpan(span, label === 'OTHER' ? '_OTHER' : label, routeLabel === 'unmatched' ? undefined : routeLabel, res.statusCode, failure);
      const level = res.statusCode >= 500 ? 'error' : path === '/healthz' || path === '/metrics' ? 'debug' : 'info';
      if (logger.isLevelEnabled(level)) {
        const trace = span ? { trace_id: span.spanContext().traceId, span_id: span.spanContext().spanId } : undefined;
        log()[level]({ method: method.slice(0, 20), route: routeLabel, path, status: res.statusCode, ms: Math.round(ms), ...trace }, 'request');
      }
    });
    // A client that went away before the answer: the span still ends.
    if (span) res.on('close', () => res.writableFinished || endServerSpan(span, methodLabel(method), undefined, 499, new Error('client closed the connection')));

    // Everything that can throw on hostile input (target parsing, percent-decoding, auth,
    // handlers) runs inside this try: a request ends in a response, never in a crash.
    try {
      const target = parseTarget(req.url);
      path = target.pathname;
      const match = router.match(method, target.pathname);
      if (match && 'route' in match) routeLabel = match.route.pattern;
      if (!match) return send(res, { status: 404, body: { error: 'not_found', message: `no route for ${method.slice(0, 20)} ${path}` } }, requestId);
      if ('methodNotAllowed' in match) {
        return send(res, {
          status: 405,
          headers: { Allow: match.methodNotAllowed.join(', ') },
          body: { error: 'method_not_allowed', message: `${method.slice(0, 20)} is not allowed; use ${match.methodNotAllowed.join(' or ')}` },
        }, requestId);
      }
      const user = auth.authorise(req, match.route.auth);
      // The query schema /openapi.json publishes is the one every request is checked against.
      const querySchema = match.route.doc?.query;
      if (querySchema && target.searchParams.size > 0) checkQuery(querySchema, target.searchParams, match.route.doc?.repeatable ?? []);
      const ctx = new Context(req, method, path, match.params, target.searchParams, requestId, user, log);
      if (match.route.raw) {
        res.setHeader('X-Request-Id', requestId);
        return await match.route.raw(ctx, res);
      }
      send(res, await match.route.handler!(ctx), requestId);
    } catch (err) {
      failure = err;
      const error = asQuenchError(err);
      const status = httpStatusOf[error.code];
      if (status >= 500) log().error({ err }, 'request failed');
      if (!res.headersSent) {
        const headers: Record<string, string> = {};
        const retryAfter = error.details?.retryAfterSeconds;
        if (typeof retryAfter === 'number') headers['Retry-After'] = String(Math.ceil(retryAfter));
        // Internal errors keep their detail in the log, not in the response.
        const message =
          status >= 500 && error.code === 'internal' ? 'internal error; see the server log for the request id' : error.message;
        send(res, { status, headers, body: { error: error.code, message, requestId } }, requestId);
      } else res.destroy();
    }
  };

  const server = createServer((req, res) => {
    // With tracing on, the request runs inside its server span (handlers' client spans and log lines join it).
    const traced = startServerSpan(req, methodLabel(req.method ?? 'GET') === 'OTHER' ? '_OTHER' : (req.method ?? 'GET'));
    const handling = traced ? context.with(traced.ctx, () => handle(req, res, traced.span)) : handle(req, res, undefined);
    // Last resort: even a failure while answering (a socket gone mid-write) is logged, never left unhandled.
    handling.catch((err) => {
      logger.error({ err }, 'request handling failed after the response started');
      res.destroy();
    });
  });
  // Requests Node's parser refuses never reach `handle`: answer them in the JSON error shape too.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => answerClientError(err, socket));
  // A CONNECT (authority-form target) is not for us; without this listener Node would drop the socket silently.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    writeRaw(socket, 405, 'method_not_allowed', 'CONNECT is not supported: Quench is not a proxy');
  });
  // An Expect other than 100-continue: Node's own 417 has no body; ours has the JSON error shape.
  server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    res.shouldKeepAlive = false;
    send(res, { status: 417, body: { error: 'expectation_failed', message: 'unsupported Expect header; only "Expect: 100-continue" is understood' } });
  });
  // Bound slow clients: a half-sent body cannot hold a socket for ever.
  server.requestTimeout = 30_000;
  server.headersTimeout = 15_000;

  return {
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      }),
    close: (graceMs = 8000) =>
      new Promise((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        // Keep-alive sockets with no request in flight would hold close() open.
        server.closeIdleConnections();
      }),
  };
}

export function send(res: ServerResponse, reply: Reply, requestId?: string): void {
  // Every header in one writeHead: a setHeader per header costs more on the gate's hot path.
  const headers: OutgoingHttpHeaders = reply.headers ? { ...reply.headers } : {};
  if (requestId !== undefined) headers['X-Request-Id'] = requestId;
  let payload: string | undefined;
  if (reply.text !== undefined) {
    payload = reply.text;
    if (contentTypeKey(headers) === undefined && !res.hasHeader('Content-Type')) headers['Content-Type'] = 'text/plain; charset=utf-8';
  } else if (reply.body !== undefined) {
    payload = JSON.stringify(reply.body);
    const key = contentTypeKey(headers);
    if (key !== undefined) delete headers[key];
    headers['Content-Type'] = 'application/json; charset=utf-8';
  }
  // A known length lets Node send headers and body in one write, not as chunked encoding.
  if (payload !== undefined) headers['Content-Length'] = Buffer.byteLength(payload);
  res.writeHead(reply.status, headers).end(payload);
}

/** Header names are case-insensitive: a handler may have said `content-type`. */
function contentTypeKey(headers: OutgoingHttpHeaders): string | undefined {
  for (const key in headers) if (key.length === 12 && key.toLowerCase() === 'content-type') return key;
  return undefined;
}

/**
 * Checks every value of every query parameter against the route's schema. `Object.fromEntries`
 * alone kept the last of a repeated parameter while handlers read the first (`query.get`), so
 * `limit=abc&limit=1` passed with `abc` unchecked and `service=demo&service=checkout` asked the
 * deploy gate about demo. A parameter the route does not declare repeatable is refused when
 * given twice; each value of a repeatable one is checked.
 */
function checkQuery(schema: z.ZodObject, params: URLSearchParams, repeatable: readonly string[]): void {
  const firsts = new Map<string, string>();
  const repeats: Array<[string, string]> = [];
  for (const [name, value] of params) {
    if (!firsts.has(name)) firsts.set(name, value);
    else if (repeatable.includes(name)) repeats.push([name, value]);
    else throw new QuenchError('bad_request', `the ${name.slice(0, 40)} query parameter is given more than once; give it once`);
  }
  // Object.fromEntries defines own properties: a parameter named __proto__ stays a parameter.
  parseWith(schema, Object.fromEntries(firsts), 'query', 'bad_request');
  for (const [name, value] of repeats) parseWith(schema, Object.fromEntries([...firsts, [name, value]]), 'query', 'bad_request');
}
