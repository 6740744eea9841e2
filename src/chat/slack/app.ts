import { App, type App as BoltApp, type Logger as BoltLogger, LogLevel } from '@slack/bolt';
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

export function createSlackApp(options: SlackAppOptions): { app: BoltApp; receiver: RouterReceiver | undefined } {
  const clientOptions = {
    slackApiUrl: options.apiUrl ? `${options.apiUrl.replace(/\/+$/, '')}/` : 'https://slack.com/api/',
    retryConfig: { retries: 4, factor: 2, minTimeout: 200, maxTimeout: 5_000 },
  };
  const logger = boltLogger(options.logger);
  if (options.appToken) {
    const app = new App({ token: options.botToken, appToken: options.appToken, socketMode: true, clientOptions, logger });
    return { app, receiver: undefined };
  }
  const receiver = new RouterReceiver({ signingSecret: options.signingSecret, clock: options.clock, logger: options.logger });
  const app = new App({ token: options.botToken, receiver, clientOptions, logger });
  return { app, receiver };
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
