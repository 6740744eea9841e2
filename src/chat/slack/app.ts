import { App, type App as BoltApp, type Authorize, type Logger as BoltLogger, LogLevel, webApi } from '@slack/bolt';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../telemetry/logger.js';
import { RouterReceiver } from './receiver.js';

/**
 * The Bolt app: HTTP through our RouterReceiver on `POST /slack/events`, or Socket Mode when
 * SLACK_APP_TOKEN is set (Bolt's SocketModeReceiver, no public URL needed). Its WebClient
 * talks to SLACK_API_URL and honours 429 Retry-After itself; the retry budget is kept short so
 * a Slack outage surfaces as an error within seconds instead of blocking a worker for 30 minutes.
 */
export interface SlackAppOptions {
  botToken: string;
  signingSecret: string;
  appToken?: string | undefined;
  apiUrl?: string | undefined;
  clock: Clock;
  logger: Logger;
}

export function createSlackApp(options: SlackAppOptions): { app: BoltApp; client: webApi.WebClient; receiver: RouterReceiver | undefined } {
  const clientOptions = {
    slackApiUrl: options.apiUrl ? `${options.apiUrl.replace(/\/+$/, '')}/` : 'https://slack.com/api/',
    retryConfig: { retries: 4, factor: 2, minTimeout: 200, maxTimeout: 5_000 },
  };
  const logger = boltLogger(options.logger);
  const client = new webApi.WebClient(options.botToken, { ...clientOptions, logger });
  const authorize = botAuthorization(client, options.botToken, options.logger);
  if (options.appToken) {
    const app = new App({ authorize, appToken: options.appToken, socketMode: true, clientOptions, logger });
    return { app, client, receiver: undefined };
  }
  const receiver = new RouterReceiver({ signingSecret: options.signingSecret, clock: options.clock, logger: options.logger });
  const app = new App({ authorize, receiver, clientOptions, logger });
  return { app, client, receiver };
}

/**
 * The bot token for every incoming request, with the bot's ids from `auth.test` once Slack has
 * answered it. Bolt's own (`token:`) calls auth.test when the app is built and keeps that promise
 * for ever: a Slack outage at start-up became an unhandled rejection and then failed every click
 * and command until a restart. Here the call is made in the background when a request finds no
 * ids, one at a time, and asked again by the next request after a failure; no request waits for
 * it: the ids only serve Bolt's filter of the bot's own messages, which Quench does not listen
 * to, while a click or command must be acknowledged within 3 s, and an auth.test that Slack is
 * slow to answer (the WebClient retries a 5xx for seconds, and has no timeout) would hold them all.
 */
function botAuthorization(client: webApi.WebClient, botToken: string, log: Logger): Authorize<boolean> {
  let ids: { botId?: string; botUserId?: string } | undefined;
  let asking: Promise<void> | undefined;
  return async () => {
    if (!ids)
      asking ??= client.auth
        .test()
        .then(
          (r) => {
            ids = { ...(r.bot_id ? { botId: r.bot_id } : {}), ...(r.user_id ? { botUserId: r.user_id } : {}) };
          },
          (err: unknown) => log.warn({ err }, 'Slack auth.test failed; going on with the bot token alone, and asking again on the next request'),
        )
        .finally(() => {
          asking = undefined;
        });
    return { botToken, ...ids };
  };
}

/** Bolt's Logger interface over pino; Bolt's debug chatter stays at debug. */
function boltLogger(log: Logger): BoltLogger {
  const child = log.child({ component: 'slack' });
  let level = LogLevel.INFO;
  const fmt = (args: unknown[]) => args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
  return {
    debug: (...args) => child.debug(fmt(args)),
    info: (...args) => child.info(fmt(args)),
    warn: (...args) => child.warn(fmt(args)),
    error: (...args) => child.error(fmt(args)),
    setLevel: (l) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}
