import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { App, Receiver, ReceiverEvent } from '@slack/bolt';
import type { Clock } from '../../core/clock.js';
import { QuenchError } from '../../core/errors.js';
import { readRawBody } from '../../http/body.js';
import type { RawHandler } from '../../http/router.js';
import { send } from '../../http/server.js';
import type { Logger } from '../../telemetry/logger.js';

/**
 * Bolt's Receiver on Quench's own HTTP server (`POST /slack/events`), instead of Bolt's
 * HTTPReceiver which would open a second port. We verify the v0 signature ourselves against the
 * injected clock (Bolt's helper reads Date.now and only refuses old timestamps, not future ones),
 * then hand the parsed body to `app.processEvent` with an `ack` that answers the HTTP request.
 * Listeners ack first and work after; repeats (Slack retries, double clicks) are recognised by
 * the durable inbox the listeners write to, which also covers Socket Mode.
 */
export const REPLAY_WINDOW_SECONDS = 5 * 60;
const MAX_BODY_BYTES = 1024 * 1024;

export function verifySlackSignature(secret: string, headers: { signature?: string; timestamp?: string }, body: string, now: Date): void {
  const ts = Number(headers.timestamp);
  if (!headers.timestamp || !Number.isInteger(ts)) {
    throw new QuenchError('unauthorized', 'missing or malformed X-Slack-Request-Timestamp; requests must come from Slack');
  }
  if (Math.abs(Math.floor(now.getTime() / 1000) - ts) > REPLAY_WINDOW_SECONDS) {
    throw new QuenchError(
      'unauthorized',
      'X-Slack-Request-Timestamp is more than 5 minutes from now: replayed request, or the server clock is wrong',
    );
  }
  const presented = /^v0=([0-9a-f]{64})$/.exec(headers.signature ?? '')?.[1];
  const expected = createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex');
  if (!presented || !timingSafeEqual(Buffer.from(presented, 'hex'), Buffer.from(expected, 'hex'))) {
    throw new QuenchError(
      'unauthorized',
      'X-Slack-Signature does not match: check SLACK_SIGNING_SECRET (Basic Information → App Credentials)',
    );
  }
}

/** JSON that must be an object (Slack never sends anything else): `null`, arrays and scalars are refused. */
function jsonObject(text: string, malformed: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new QuenchError('bad_request', malformed);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new QuenchError('bad_request', `${malformed}: expected a JSON object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
  return value as Record<string, unknown>;
}

/** Slack sends interactions as `payload=<json>`, slash commands as form fields, events as JSON. */
export function parseSlackBody(raw: string, contentType: string): Record<string, unknown> {
  if (contentType.includes('application/json')) return jsonObject(raw, 'malformed JSON in Slack request');
  const form = new URLSearchParams(raw);
  const payload = form.get('payload');
  if (payload !== null) return jsonObject(payload, 'malformed payload field in Slack interaction');
  return Object.fromEntries(form);
}

export class RouterReceiver implements Receiver {
  #app: App | undefined;
  readonly #secret: string;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(options: { signingSecret: string; clock: Clock; logger: Logger }) {
    this.#secret = options.signingSecret;
    this.#clock = options.clock;
    this.#logger = options.logger;
  }

  init(app: App): void {
    this.#app = app;
  }

  // Quench's HTTP server has its own lifecycle; stopping only waits for work already acknowledged.
  async start(): Promise<void> {}
  async stop(): Promise<void> {
    await this.idle();
  }

  /** Resolves when every request received so far has been fully handled (work after the ack included). */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  readonly handle: RawHandler = async (ctx, res) => {
    const raw = (await readRawBody(ctx.req, MAX_BODY_BYTES)).toString('utf8');
    const header = (name: string) => {
      const v = ctx.req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    verifySlackSignature(
      this.#secret,
      { signature: header('x-slack-signature'), timestamp: header('x-slack-request-timestamp') },
      raw,
      this.#clock.now(),
    );
    const body = parseSlackBody(raw, header('content-type') ?? '');
    if (body.type === 'url_verification' && typeof body.challenge === 'string') {
      return send(res, { status: 200, body: { challenge: body.challenge } });
    }
    if (!this.#app) throw new QuenchError('internal', 'Slack receiver used before the Bolt app was initialised');
    const retryNum = Number(header('x-slack-retry-num'));
    const { ack, acked } = httpAck(res);
    const event: ReceiverEvent = { body, ack };
    if (Number.isInteger(retryNum)) {
      event.retryNum = retryNum;
      event.retryReason = header('x-slack-retry-reason') ?? '';
    }
    const processing = this.#app.processEvent(event);
    this.#inFlight.add(processing);
    try {
      await processing;
    } catch (err) {
      this.#logger.error({ err }, 'Slack event processing failed');
      if (!acked()) return send(res, { status: 500, body: { error: 'internal', message: 'Slack event processing failed' } });
    } finally {
      this.#inFlight.delete(processing);
    }
    // A request no listener acknowledged still gets an answer, so Slack does not retry it.
    if (!acked()) send(res, { status: 200 });
  };
}

function httpAck(res: ServerResponse): { ack: ReceiverEvent['ack']; acked: () => boolean } {
  let done = false;
  const ack = async (response?: unknown) => {
    if (done) return;
    done = true;
    if (response === undefined || response === '') send(res, { status: 200 });
    else if (typeof response === 'string') send(res, { status: 200, text: response });
    else send(res, { status: 200, body: response });
  };
  return { ack, acked: () => done };
}
