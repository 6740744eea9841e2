import { gateForChat } from '../gate/slack.js';
import type { HumanStepNotifier } from '../engine/notifier.js';
import { pagerDutyActions } from '../pagerduty/actions.js';
import { PagerDutyDirectory } from '../pagerduty/directory.js';
import { PagerDutyEvents } from '../pagerduty/events.js';
import { PagerDutyRest } from '../pagerduty/rest.js';
import type { Capability, Component, ServiceContext } from '../service.js';
import { defaultApprovalPolicy } from './core/auto-approval.js';
import { onClosed } from './decisions.js';
import type { ChatDeps, EngineForChat } from './deps.js';
import { sweepInbox } from './inbox.js';
import { createChatMetrics } from './metrics.js';
import { offerStep } from './offer.js';
import { People } from './people.js';
import { reconcileWaiting } from './reconcile.js';
import { noChat } from './port.js';
import { fireDueTimers } from './sla-timers.js';
import { createSlackApp } from './slack/app.js';
import { addListeners } from './slack/listeners.js';
import { chatActions } from './actions.js';
import { pendingReviewCount } from './reviews.js';
import { addChatRoutes } from './routes.js';
import { slackChat } from './slack/web.js';
import { runControlOf } from '../runs/control.js';

/**
 * Human steps for people: Slack (when SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET or
 * SLACK_APP_TOKEN are set), PagerDuty on-call assignment and paging actions, SLA timers, and the
 * authorisation gate every decision path shares. With Slack off the same flows run with the
 * `noChat` port: assignment, SLA, audit and the gate still apply to CLI and /v1 decisions.
 */
interface EnginePort extends EngineForChat {
  actions: { register(action: unknown): unknown; get(name: string): unknown };
  setNotifier(n: HumanStepNotifier): void;
  listHumanSteps(options?: { status?: 'waiting' }): Promise<unknown>;
}

/** What tests and `quench serve` internals reach for: the deps and a way to wait for Slack work. */
export interface ChatInternals {
  deps: ChatDeps;
  receiver: { idle(): Promise<void> } | undefined;
  fireDueTimers(): Promise<number>;
  sweep(): Promise<number>;
}
const internals = new WeakMap<object, ChatInternals>();
export const chatInternals = (ctx: object): ChatInternals | undefined => internals.get(ctx);

export const chatCapability: Capability = (ctx) => {
  const { config, logger } = ctx;
  const slackOn = Boolean(config.SLACK_BOT_TOKEN && (config.SLACK_SIGNING_SECRET || config.SLACK_APP_TOKEN));
  const slack = slackOn
    ? createSlackApp({
        botToken: config.SLACK_BOT_TOKEN!,
        signingSecret: config.SLACK_SIGNING_SECRET ?? '',
        appToken: config.SLACK_APP_TOKEN,
        apiUrl: config.SLACK_API_URL,
        clock: ctx.clock,
        logger,
      })
    : undefined;
  const chat = slack ? slackChat(slack.client) : noChat;
  const rest = config.PAGERDUTY_TOKEN ? new PagerDutyRest({ token: config.PAGERDUTY_TOKEN, baseUrl: config.PAGERDUTY_API_URL }) : undefined;
  const directory = rest ? new PagerDutyDirectory(rest) : undefined;
  const events = config.PAGERDUTY_ROUTING_KEY
    ? new PagerDutyEvents({ routingKey: config.PAGERDUTY_ROUTING_KEY, baseUrl: config.PAGERDUTY_EVENTS_URL })
    : undefined;
  const engine = () => (ctx.ports as unknown as { engine?: EnginePort }).engine;

  const people = new People(chat, () => directory);
  const deps: ChatDeps = {
    db: ctx.db,
    audit: ctx.audit,
    clock: ctx.clock,
    logger: logger.child({ component: 'chat' }),
    metrics: createChatMetrics(ctx.metrics.registry, () => pendingReviewCount(ctx.db)),
    chat,
    people,
    policy: config.QUENCH_APPROVAL_POLICY ?? defaultApprovalPolicy,
    engine,
    channel: { fallback: config.QUENCH_SLACK_CHANNEL, perRun: config.QUENCH_SLACK_CHANNEL_PER_RUN },
    pagerDutyEvents: events,
    pagerDutyDrillEvents: config.QUENCH_PAGERDUTY_DRILL_ROUTING_KEY
      ? new PagerDutyEvents({ routingKey: config.QUENCH_PAGERDUTY_DRILL_ROUTING_KEY, baseUrl: config.PAGERDUTY_EVENTS_URL })
      : undefined,
    gate: () => (ctx.ports.gate ? gateForChat(ctx.ports.gate, async (id) => (await people.slackUser(id)).aliases) : undefined),
    runs: () => runControlOf(ctx),
  };
  Object.assign(ctx.ports, { chat });
  internals.set(ctx, { deps, receiver: slack?.receiver, fireDueTimers: () => fireDueTimers(deps), sweep: () => sweepInbox(deps, 0) });

  addChatRoutes(ctx.router, chatActions(deps));
  if (slack?.receiver) ctx.router.add({ method: 'POST', pattern: '/slack/events', auth: 'public', raw: slack.receiver.handle });
  if (slack) addListeners(slack.app, deps);

  const notifier: HumanStepNotifier = {
    waiting: (view) => offerStep(deps, view),
    closed: (info) => onClosed(deps, info),
  };
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    try {
      await fireDueTimers(deps);
      await sweepInbox(deps);
      // Offers that failed (PagerDuty or Slack down) are retried until they exist.
      const e = engine();
      if (e) await reconcileWaiting(deps, (await e.listHumanSteps({ status: 'waiting' })) as Array<{ id: string }>);
    } catch (err) {
      deps.logger.error({ err }, 'human-step timers failed; retrying on the next tick');
    }
  };

  const component: Component = {
    name: 'chat',
    async start() {
      const e = engine();
      if (e) {
        for (const action of pagerDutyActions({ events, directory, fromEmail: config.PAGERDUTY_FROM_EMAIL }))
          if (!e.actions.get(action.name)) e.actions.register(action);
        e.setNotifier(notifier);
        await reconcileWaiting(deps, (await e.listHumanSteps({ status: 'waiting' })) as Array<{ id: string }>);
      } else logger.warn('chat started without the engine: human steps will not be offered in Slack');
      if (slack && !slack.receiver) await slack.app.start();
      if (!slackOn) logger.info('Slack is off: human steps wait for `quench approve|reject` or POST /v1/steps/:id/decision');
      timer = setInterval(() => void tick(), 5_000);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      if (slack && !slack.receiver) await slack.app.stop();
    },
  };
  return component;
};

export type { ServiceContext };
