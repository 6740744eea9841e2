import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { asQuenchError, httpStatusOf } from '../core/errors.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { TokenAuthenticator } from './auth.js';
import type { Reply, RequestContext, Router } from './router.js';

export interface HttpServer {
  readonly server: Server;
  listen(port: number, host?: string): Promise<number>;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes sockets. */
  close(graceMs?: number): Promise<void>;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export function createHttpServer(deps: { router: Router; auth: TokenAuthenticator; logger: Logger; metrics: Metrics }): HttpServer {
  const { router, auth, logger, metrics } = deps;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const started = process.hrtime.bigint();
    const incomingId = req.headers['x-request-id'];
    const requestId = typeof incomingId === 'string' && REQUEST_ID.test(incomingId) ? incomingId : randomUUID();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const log = logger.child({ requestId });
    const method = req.method ?? 'GET';
    const match = router.match(method, url.pathname);
    const routeLabel = match && 'route' in match ? match.route.pattern : 'unmatched';
    res.setHeader('X-Request-Id', requestId);

    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.httpRequestDuration.observe({ method, route: routeLabel, status: String(res.statusCode) }, seconds);
      const level = res.statusCode >= 500 ? 'error' : url.pathname === '/healthz' || url.pathname === '/metrics' ? 'debug' : 'info';
      log[level]({ method, route: routeLabel, path: url.pathname, status: res.statusCode, ms: Math.round(seconds * 1000) }, 'request');
    });

    try {
      if (!match) return send(res, { status: 404, body: { error: 'not_found', message: `no route for ${method} ${url.pathname}` } });
      if ('methodNotAllowed' in match) {
        return send(res, {
          status: 405,
          headers: { Allow: match.methodNotAllowed.join(', ') },
          body: { error: 'method_not_allowed', message: `${method} is not allowed; use ${match.methodNotAllowed.join(' or ')}` },
        });
      }
      const user = auth.authorise(req, match.route.auth);
      const ctx: RequestContext = { req, method, path: url.pathname, params: match.params, query: url.searchParams, requestId, log, user };
      if (match.route.raw) return await match.route.raw(ctx, res);
      send(res, await match.route.handler!(ctx));
    } catch (err) {
      const error = asQuenchError(err);
      const status = httpStatusOf[error.code];
      if (status >= 500) log.error({ err }, 'request failed');
      if (!res.headersSent) {
        const headers: Record<string, string> = {};
        const retryAfter = error.details?.retryAfterSeconds;
        if (typeof retryAfter === 'number') headers['Retry-After'] = String(Math.ceil(retryAfter));
        // Internal errors keep their detail in the log, not in the response.
        const message =
          status >= 500 && error.code === 'internal' ? 'internal error; see the server log for the request id' : error.message;
        send(res, { status, headers, body: { error: error.code, message, requestId } });
      } else res.destroy();
    }
  };

  const server = createServer((req, res) => {
    void handle(req, res);
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

export function send(res: ServerResponse, reply: Reply): void {
  for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
  if (reply.text !== undefined) {
    if (!res.hasHeader('Content-Type')) res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.writeHead(reply.status).end(reply.text);
  } else if (reply.body !== undefined) {
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.writeHead(reply.status).end(JSON.stringify(reply.body));
  } else res.writeHead(reply.status).end();
}
