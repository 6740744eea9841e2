import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import type { Logger } from '../telemetry/logger.js';
import { decodePathPart } from './target.js';

/**
 * A tiny router: method + path pattern (`/v1/runs/:id`) to a handler. Handlers return a
 * `Reply`; they never touch the response object, so they stay easy to test. Routes that must
 * stream or hand the request to another stack (Slack's Bolt receiver) use `raw`.
 */
export type AuthLevel =
  /** No Quench token (health, metrics, webhooks that verify their own signatures). */
  | 'public'
  /** Open when QUENCH_API_TOKENS is unset (local use: then the server listens on 127.0.0.1 only), otherwise any valid token, read-only ones included. */
  | 'read'
  /** Always a valid token. */
  | 'token'
  /** A valid full-access token (read-only ones are refused); refused when QUENCH_API_TOKENS is unset. */
  | 'write';

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly method: string;
  readonly path: string;
  readonly params: Record<string, string>;
  readonly query: URLSearchParams;
  readonly requestId: string;
  readonly log: Logger;
  /** The identity behind the bearer token, when one was presented. */
  readonly user: string | undefined;
}

export interface Reply {
  status: number;
  body?: unknown;
  /** Sent as-is instead of JSON. */
  text?: string;
  headers?: Record<string, string>;
}

export type Handler = (ctx: RequestContext) => Promise<Reply> | Reply;
export type RawHandler = (ctx: RequestContext, res: ServerResponse) => Promise<void>;

/**
 * What `/openapi.json` says about a route (src/http/openapi.ts). The schemas are the ones the
 * handler parses with, so the document cannot drift from what the route accepts.
 */
export interface RouteDoc {
  summary: string;
  description?: string;
  /** Query parameters: one property per parameter (optional ones may be left out). */
  query?: z.ZodObject;
  /**
   * Query parameters the handler reads with `getAll` (each value is checked against the schema).
   * Any other parameter given twice is refused: the handler would read the first, unchecked.
   */
  repeatable?: readonly string[];
  /** The JSON request body. */
  body?: z.ZodType;
  /** Answers other than the error shape every route shares: status → description and body schema. */
  responses: Record<number, ResponseDoc>;
}

export interface ResponseDoc {
  description: string;
  /** The body's schema, as `contentType` (JSON unless said). */
  body?: z.ZodType;
  contentType?: string;
  /** Text media types the same status may answer with instead (`GET /v1/reports?format=md`): a string each. */
  alternatives?: readonly string[];
}

export interface Route {
  method: string;
  pattern: string;
  auth: AuthLevel;
  handler?: Handler;
  raw?: RawHandler;
  doc?: RouteDoc;
}

interface CompiledRoute extends Route {
  regex: RegExp;
  keys: string[];
  /** The pattern up to its first parameter: a path that does not start with it cannot match (checked before the regex). */
  prefix: string;
}

export class Router {
  readonly #routes: CompiledRoute[] = [];
  /**
   * Routes without parameters by exact path (and path + "/") and method, when no earlier route
   * could take the same request: a hit answers what the ordered scan would, without the scan.
   */
  readonly #exact = new Map<string, CompiledRoute>();

  add(route: Route): this {
    const keys: string[] = [];
    const source = route.pattern
      .split('/')
      .map((part) => {
        if (!part.startsWith(':')) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        keys.push(part.slice(1));
        return '([^/]+)';
      })
      .join('/');
    const param = route.pattern.indexOf('/:');
    const prefix = param < 0 ? route.pattern : route.pattern.slice(0, param + 1);
    const compiled: CompiledRoute = { ...route, regex: new RegExp(`^${source}/?$`), keys, prefix };
    if (keys.length === 0) {
      for (const path of route.pattern.endsWith('/') ? [route.pattern] : [route.pattern, `${route.pattern}/`]) {
        for (const method of route.method === 'GET' ? ['GET', 'HEAD'] : [route.method]) {
          const key = `${method} ${path}`;
          const shadowed = this.#routes.some((r) => r.regex.test(path) && (r.method === method || (method === 'HEAD' && r.method === 'GET')));
          if (!shadowed && !this.#exact.has(key)) this.#exact.set(key, compiled);
        }
      }
    }
    this.#routes.push(compiled);
    return this;
  }

  /** Every registered route, in registration order (for the OpenAPI document). */
  get routes(): readonly Route[] {
    return this.#routes;
  }

  /** The route for a path; `methodNotAllowed` when the path exists under other methods. */
  match(
    method: string,
    path: string,
  ): { route: CompiledRoute; params: Record<string, string> } | { methodNotAllowed: string[] } | undefined {
    const exact = this.#exact.get(`${method} ${path}`);
    if (exact) return { route: exact, params: {} };
    const allowed: string[] = [];
    for (const route of this.#routes) {
      if (!path.startsWith(route.prefix)) continue;
      const m = route.regex.exec(path);
      if (!m) continue;
      if (route.method !== method && !(method === 'HEAD' && route.method === 'GET')) {
        allowed.push(route.method);
        continue;
      }
      const params: Record<string, string> = {};
      // Malformed encodings are refused with a 400 (never a URIError thrown at the caller).
      for (let i = 0; i < route.keys.length; i++) params[route.keys[i]!] = decodePathPart(m[i + 1] ?? '');
      return { route, params };
    }
    return allowed.length > 0 ? { methodNotAllowed: allowed } : undefined;
  }
}
