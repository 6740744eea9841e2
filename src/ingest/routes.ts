import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import type { Config } from '../config/load.js';
import type { Clock } from '../core/clock.js';
import { QuenchError, asQuenchError } from '../core/errors.js';
import type { Database } from '../db/database.js';
import {
  MAX_JSON_DEPTH,
  exactUtf8,
  jsonDepth,
  parseJsonText,
  parseWith,
  readRawBody,
  requireIdentityEncoding,
  requireJsonContentType,
  withoutBom,
} from '../http/body.js';
import type { Reply, RequestContext, Router } from '../http/router.js';
import { alertmanagerPayloadSchema } from './core/alertmanager.js';
import { genericEventSchema } from './core/generic.js';
import { pagerdutyPayloadSchema } from './core/pagerduty.js';
import { TokenBuckets, clientKey } from './core/rate-limit.js';
import { createInboxWriter } from './inbox-writer.js';
import { activeTraceHeaders } from '../telemetry/otel.js';
import type { IngestMetrics } from './metrics.js';
import { bodyDigest, verifyAlertmanagerAuth, verifyGeneric, verifyPagerDuty } from './signatures.js';

/**
 * The three webhook endpoints. Each authenticates first (unknown source, credentials in
 * headers, or the capped raw body and its signature over the exact bytes), then charges the
 * source's rate limit, parses and validates the body, and stores it in the inbox. The 202 goes out only
 * after that insert has committed; all processing happens later, from the inbox.
 */
export interface WebhookDeps {
  db: Database;
  clock: Clock;
  config: Config;
  metrics: IngestMetrics;
  /** Called after a delivery commits, to wake the workers. */
  wake?: () => void;
}

/** Headers worth keeping with the body (never signatures or credentials). */
const KEPT_HEADERS = ['content-type', 'user-agent', 'x-request-id', 'x-webhook-id', 'x-webhook-subscription', 'x-quench-timestamp'];
const SOURCE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

const header = (h: IncomingHttpHeaders, name: string) => {
  const v = h[name];
  return Array.isArray(v) ? v.join(',') : v;
};

/** The kept headers, with the webhook's trace context (when tracing is on) added to `out`. */
function keptHeaders(h: IncomingHttpHeaders, out: Record<string, string>): Record<string, string> {
  for (const name of KEPT_HEADERS) {
    const v = header(h, name);
    if (v !== undefined) out[name] = v.slice(0, 500);
  }
  return out;
}

/** The 202 of every webhook: stored in the inbox (processed later), or a repeat of a stored delivery. */
const webhookAnswerSchema = z.discriminatedUnion('status', [
  z.object({ status: z.literal('accepted'), id: z.number().int().describe('The inbox entry (`quench dlq inbox` names it if it fails)'), requestId: z.string() }),
  z.object({ status: z.literal('duplicate').describe('The same delivery was accepted before; nothing more happens'), requestId: z.string() }),
]);
type WebhookAnswer = z.input<typeof webhookAnswerSchema>;
const accepted = {
  202: {
    description: "Accepted into the inbox ({ status: 'accepted' }), or a duplicate of a delivery already accepted ({ status: 'duplicate' })",
    body: webhookAnswerSchema,
  },
};

const reject = (code: 'bad_request' | 'validation_failed' | 'not_found', reason: string, message: string) =>
  new QuenchError(code, message, { details: { reason } });

/**
 * Text and JSON of a body, with the depth and encoding checks named so rejections are counted
 * by reason. The text is the body byte for byte, a leading BOM included: it is what the inbox
 * stores, and the signature was over those bytes.
 */
function decode<T>(raw: Buffer, parse: (value: unknown) => T): { text: string; value: T } {
  let text: string;
  try {
    text = exactUtf8.decode(raw);
  } catch {
    throw reject('bad_request', 'bad_encoding', 'request body is not valid UTF-8');
  }
  const depth = jsonDepth(text);
  if (depth > MAX_JSON_DEPTH) throw reject('bad_request', 'too_deep', `JSON nested ${depth} levels deep; the limit is ${MAX_JSON_DEPTH}`);
  let json: unknown;
  try {
    json = parseJsonText(withoutBom(text));
  } catch (err) {
    throw reject('bad_request', 'bad_json', asQuenchError(err).message);
  }
  return { text, value: parse(json) };
}

const reasonOf = (err: QuenchError): string => {
  const reason = err.details?.reason;
  if (typeof reason === 'string') return reason;
  if (err.code === 'validation_failed') return 'schema';
  if (err.code === 'payload_too_large') return 'too_large';
  if (err.code === 'unsupported_media_type') return 'content_type';
  if (err.code === 'rate_limited') return 'rate_limited';
  return err.code;
};

export function addWebhookRoutes(router: Router, deps: WebhookDeps): void {
  const { db, clock, config, metrics } = deps;
  // Concurrent deliveries share one INSERT and one commit (group commit); each still waits for its row.
  const inbox = createInboxWriter(db);
  const limiter = new TokenBuckets(config.QUENCH_WEBHOOK_RATE_LIMIT, config.QUENCH_WEBHOOK_RATE_BURST);
  const failures = new TokenBuckets(config.QUENCH_WEBHOOK_AUTH_FAILURE_RATE, config.QUENCH_WEBHOOK_AUTH_FAILURE_BURST);
  const pagerdutySecrets = (config.PAGERDUTY_WEBHOOK_SECRET ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

  // One bound counter child per source (a bounded set: see label below), not a label lookup per request.
  const counters = new Map<string, { received: { inc(): void }; accepted: { inc(): void } }>();
  const countersOf = (source: string) => {
    let c = counters.get(source);
    if (!c) {
      c = { received: metrics.received.labels(source), accepted: metrics.accepted.labels(source) };
      counters.set(source, c);
    }
    return c;
  };

  const genericLabels = new Map<string, string>();

  const limited = (retryAfterSeconds: number, message: string, reason: string) =>
    new QuenchError('rate_limited', message, { details: { retryAfterSeconds, reason } });

  /**
   * Shared shape of every endpoint. Authentication comes first, and only an authenticated
   * request is charged to its source's bucket, so a flood of unsigned requests cannot spend a
   * sender's budget. Every refusal before authentication succeeded (unknown source, bad or
   * missing signature, oversized unsigned body) is charged to the client address's failure
   * bucket instead; an address that has spent it is refused before any work, so guessing a
   * credential is slow too.
   */
  const endpoint =
    <A>(
      label: (ctx: RequestContext) => string,
      authenticate: (ctx: RequestContext) => Promise<A> | A,
      accept: (ctx: RequestContext, source: string, authenticated: A) => Promise<Reply>,
    ) =>
    async (ctx: RequestContext): Promise<Reply> => {
      const source = label(ctx);
      const client = clientKey(ctx.req.socket.remoteAddress);
      countersOf(source).received.inc();
      try {
        const blocked = failures.peek(client, clock.now().getTime());
        if (!blocked.ok) {
          throw limited(
            blocked.retryAfterSeconds,
            `too many failed authentications from this address; retry after ${blocked.retryAfterSeconds} s`,
            'auth_failures',
          );
        }
        let authenticated: A;
        try {
          authenticated = await authenticate(ctx);
        } catch (err) {
          failures.take(client, clock.now().getTime());
          throw err;
        }
        const limit = limiter.take(source, clock.now().getTime());
        if (!limit.ok) {
          throw limited(
            limit.retryAfterSeconds,
            `too many requests for webhook source ${source}; retry after ${limit.retryAfterSeconds} s`,
            'rate_limited',
          );
        }
        requireJsonContentType(ctx.req);
        requireIdentityEncoding(ctx.req);
        return await accept(ctx, source, authenticated);
      } catch (err) {
        const error = asQuenchError(err);
        const reason = reasonOf(error);
        metrics.rejected.inc({ source, reason });
        // Never the body or a header value: only what lets an operator find the sender's mistake.
        ctx.log.warn({ source, reason, code: error.code, message: error.message.slice(0, 300) }, 'webhook rejected');
        throw error;
      }
    };

  const store = async (ctx: RequestContext, source: string, deliveryKey: string, text: string, webhookId?: string): Promise<Reply> => {
    const stored = await inbox.insert({
      source,
      deliveryKey,
      webhookId,
      receivedAt: clock.now(),
      // The webhook's server span (when tracing is on): the run it starts continues this trace.
      headers: keptHeaders(ctx.req.headers, activeTraceHeaders()),
      body: text,
    });
    if (!stored) {
      metrics.dedupHits.inc({ source, level: 'delivery' });
      return { status: 202, body: { status: 'duplicate', requestId: ctx.requestId } satisfies WebhookAnswer };
    }
    countersOf(source).accepted.inc();
    deps.wake?.();
    return { status: 202, body: { status: 'accepted', id: stored.id, requestId: ctx.requestId } satisfies WebhookAnswer };
  };

  router.add({
    method: 'POST',
    pattern: '/webhooks/alertmanager',
    auth: 'public',
    doc: { summary: 'Alertmanager webhook receiver', body: alertmanagerPayloadSchema, responses: accepted },
    handler: endpoint(
      () => 'alertmanager',
      // Credentials travel in a header: checked before the body is read.
      (ctx) =>
        verifyAlertmanagerAuth(header(ctx.req.headers, 'authorization'), {
          token: config.QUENCH_ALERTMANAGER_TOKEN,
          username: config.QUENCH_ALERTMANAGER_USERNAME,
          password: config.QUENCH_ALERTMANAGER_PASSWORD,
        }),
      async (ctx, source) => {
        const raw = await readRawBody(ctx.req, config.QUENCH_WEBHOOK_MAX_BYTES);
        const { text, value } = decode(raw, (v) => parseWith(alertmanagerPayloadSchema, v, 'Alertmanager payload'));
        // Alertmanager payloads carry no delivery id; an identical body is the same delivery.
        const reply = await store(ctx, source, bodyDigest(raw), text);
        // Alerts cut at max_alerts never reach Quench: only their count does. Counted once per
        // stored delivery (a repeat was counted when first stored).
        if (value.truncatedAlerts > 0 && (reply.body as { status?: string }).status === 'accepted') {
          metrics.truncatedAlerts.inc({ receiver: value.receiver.slice(0, 100) }, value.truncatedAlerts);
          ctx.log.warn(
            { groupKey: value.groupKey, receiver: value.receiver, truncatedAlerts: value.truncatedAlerts, alerts: value.alerts.length },
            'Alertmanager cut alerts from this notification (max_alerts): they start nothing here; raise max_alerts or split the group',
          );
        }
        return reply;
      },
    ),
  });

  router.add({
    method: 'POST',
    pattern: '/webhooks/pagerduty',
    auth: 'public',
    doc: { summary: 'PagerDuty V3 webhook receiver (signed)', body: pagerdutyPayloadSchema, responses: accepted },
    handler: endpoint(
      () => 'pagerduty',
      // The signature covers the body: reading it (capped) is part of authenticating.
      async (ctx) => {
        if (pagerdutySecrets.length === 0) {
          throw reject(
            'not_found',
            'not_configured',
            'PagerDuty webhooks are off: set PAGERDUTY_WEBHOOK_SECRET to the subscription secret',
          );
        }
        const raw = await readRawBody(ctx.req, config.QUENCH_WEBHOOK_MAX_BYTES);
        verifyPagerDuty(header(ctx.req.headers, 'x-pagerduty-signature'), raw, pagerdutySecrets);
        return raw;
      },
      async (ctx, source, raw) => {
        const { text, value } = decode(raw, (v) => parseWith(pagerdutyPayloadSchema, v, 'PagerDuty webhook'));
        const webhookId = header(ctx.req.headers, 'x-webhook-id')?.slice(0, 200);
        return store(ctx, source, value.event.id, text, webhookId);
      },
    ),
  });

  router.add({
    method: 'POST',
    pattern: '/webhooks/generic/:source',
    auth: 'public',
    doc: { summary: 'Generic signed event webhook', body: genericEventSchema, responses: accepted },
    handler: endpoint(
      // Unknown names share one label so that callers cannot grow the metric's cardinality.
      (ctx) => {
        const name = ctx.params.source ?? '';
        if (!config.QUENCH_WEBHOOK_SECRETS.has(name)) return 'generic:unknown';
        // Kept per configured source (a bounded set), not built and flattened again per request.
        let label = genericLabels.get(name);
        if (label === undefined) genericLabels.set(name, (label = `generic:${ctx.params.source}`));
        return label;
      },
      async (ctx) => {
        const name = ctx.params.source ?? '';
        const secret = SOURCE_NAME.test(name) ? config.QUENCH_WEBHOOK_SECRETS.get(name) : undefined;
        if (secret === undefined) {
          throw reject(
            'not_found',
            'unknown_source',
            `unknown webhook source '${name.slice(0, 64)}': add ${'<source>=<secret>'} to QUENCH_WEBHOOK_SECRETS`,
          );
        }
        const raw = await readRawBody(ctx.req, config.QUENCH_WEBHOOK_MAX_BYTES);
        verifyGeneric(
          { timestamp: header(ctx.req.headers, 'x-quench-timestamp'), signature: header(ctx.req.headers, 'x-quench-signature') },
          raw,
          secret,
          clock.now().getTime(),
        );
        return raw;
      },
      async (ctx, source, raw) => {
        const { text, value } = decode(raw, (v) => parseWith(genericEventSchema, v, 'event'));
        return store(ctx, source, value.id, text);
      },
    ),
  });
}
