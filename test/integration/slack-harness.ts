import { chatCapability, chatInternals, type ChatInternals } from '../../src/chat/capability.js';
import { loadConfig } from '../../src/config/load.js';
import { ManualClock } from '../../src/core/clock.js';
import { addEngineRoutes } from '../../src/engine/routes.js';
import type { Worker } from '../../src/engine/worker.js';
import { Router } from '../../src/http/router.js';
import { createHttpServer, type HttpServer } from '../../src/http/server.js';
import { type PlaybookSource, playbookSchema } from '../../src/playbooks/core/model.js';
import { playbookHash } from '../../src/playbooks/loader.js';
import { type Component, openContext, type ServiceContext } from '../../src/service.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import type { TriggerEvent } from '../../src/triggers/event.js';
import { createPostgresDatabase, type DatabaseKind } from '../support/databases.js';
import { type FakePagerDuty, startFakePagerDuty } from '../support/fake-pagerduty.js';
import { type FakeSlack, startFakeSlack } from '../support/fake-slack.js';
import { buttonClick, FORM, interactionBody, signedRequest, slashCommandBody, viewSubmission } from '../support/slack-signer.js';

/**
 * Quench's real HTTP server, engine and chat capability on a fresh database, with Slack and
 * PagerDuty replaced by local fakes at their HTTP boundary and time on a ManualClock. The engine
 * worker is driven by `drain()` and Slack work is awaited with `settle()`, so tests never sleep.
 */
export const SIGNING_SECRET = 'test-signing-secret';
export const CHANNEL = 'C0INCIDENT';
export const people = {
  ada: { id: 'U0ADA', name: 'ada', realName: 'Ada Oncall', email: 'ada@example.com', pd: 'PU1' },
  bob: { id: 'U0BOB', name: 'bob', realName: 'Bob Second', email: 'bob@example.com', pd: 'PU2' },
  eve: { id: 'U0EVE', name: 'eve', realName: 'Eve Bystander', email: 'eve@example.com', pd: 'PU9' },
};

export interface SlackHarness {
  ctx: ServiceContext;
  slack: FakeSlack;
  pd: FakePagerDuty;
  clock: ManualClock;
  chat: ChatInternals;
  url: string;
  /** PostgreSQL only: this test's database, for CLI processes. */
  databaseUrl: string | undefined;
  drain(): Promise<number>;
  /** Waits for all Slack requests received so far to be fully handled. */
  settle(): Promise<void>;
  startRun(
    steps: PlaybookSource['steps'],
    trigger?: Partial<TriggerEvent>,
    actor?: { type: 'user' | 'system'; id: string },
  ): Promise<string>;
  waitingStep(runId: string, key: string): Promise<string>;
  slackPost(body: string, options?: { timestamp?: number; retryNum?: number; secret?: string }): Promise<Response>;
  click(user: keyof typeof people, actionId: string, stepId: string, actionTs?: string): Promise<Response>;
  submitReject(user: keyof typeof people, stepId: string, reason: string, viewId?: string): Promise<Response>;
  command(user: keyof typeof people, text: string): Promise<Response>;
  /** POST /v1/steps/:id/decision with a bearer token. */
  v1Decide(stepId: string, token: string, body: Record<string, unknown>): Promise<Response>;
  /** Simulates a restart of the chat side: a new capability instance on the same database. */
  restartChat(): Promise<void>;
  close(): Promise<void>;
}

export const APP_TOKEN = 'xapp-1-A0QUENCH-test';

/** The playbook most tests run: one approval offered to the PagerDuty on-call, then an action. */
export const approvalSteps = (extra: Record<string, unknown> = {}): PlaybookSource['steps'] =>
  [
    {
      id: 'approveRollback',
      kind: 'human',
      type: 'approve',
      prompt: 'Roll back checkout?',
      assign: { pagerduty: { escalationPolicy: 'PEP1' } },
      ...extra,
    },
    { id: 'rollback', kind: 'action', action: 'log', params: { message: 'rolled back' } },
  ] as PlaybookSource['steps'];

export async function startSlackHarness(
  kind: DatabaseKind = 'pglite',
  options: { slack?: boolean; socketMode?: boolean; env?: Record<string, string>; beforeStart?: (slack: FakeSlack) => void } = {},
): Promise<SlackHarness> {
  const slack = await startFakeSlack({
    appToken: APP_TOKEN,
    users: Object.values(people).map((p) => ({ id: p.id, name: p.name, realName: p.realName, email: p.email })),
  });
  options.beforeStart?.(slack);
  const pd = await startFakePagerDuty({
    users: Object.values(people).map((p) => ({ id: p.pd, name: p.realName, email: p.email })),
    // PCHECKOUT is the policy playbooks/checkout.yaml names; both have ada, then bob.
    policies: ['PEP1', 'PCHECKOUT'].map((id) => ({
      id,
      name: 'Checkout',
      rules: [
        { delayMinutes: 10, targets: [{ type: 'user' as const, id: 'PU1' }] },
        { delayMinutes: 10, targets: [{ type: 'user' as const, id: 'PU2' }] },
      ],
    })),
  });
  const pg = kind === 'postgres' ? await createPostgresDatabase() : undefined;
  const config = loadConfig({
    QUENCH_DATA_DIR: 'memory://',
    ...(pg ? { DATABASE_URL: pg.url } : {}),
    ...(options.slack === false
      ? {}
      : { SLACK_BOT_TOKEN: 'xoxb-test-token', SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_API_URL: slack.url }),
    ...(options.socketMode ? { SLACK_APP_TOKEN: APP_TOKEN } : {}),
    PAGERDUTY_TOKEN: 'pd-test-token',
    PAGERDUTY_API_URL: pd.apiUrl,
    PAGERDUTY_EVENTS_URL: pd.eventsUrl,
    PAGERDUTY_ROUTING_KEY: 'R0UTINGKEY0000000000000000000000',
    QUENCH_SLACK_CHANNEL: CHANNEL,
    ...options.env,
    QUENCH_API_TOKENS: 'ada@example.com=tok-ada-0123456789abcdef0123456789ab,bob@example.com=tok-bob-0123456789abcdef0123456789ab,eve@example.com=tok-eve-0123456789abcdef0123456789ab',
  });
  const clock = new ManualClock('2026-11-21T20:00:00Z');
  const ctx = await openContext(config, silentLogger, clock);
  addEngineRoutes(ctx.router, () => ctx.ports.engine);
  let component = (await chatCapability(ctx)) as Component;
  await component.start();
  let chat = chatInternals(ctx)!;
  // The receiver on the HTTP router stays the first one, across simulated restarts.
  const mounted = chat.receiver;
  const http: HttpServer = createHttpServer({ router: ctx.router, auth: ctx.auth, logger: silentLogger, metrics: ctx.metrics });
  const port = await http.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  const worker: Worker = ctx.ports.engine.createWorker('test');
  const now = () => Math.floor(clock.now().getTime() / 1000);
  let n = 0;

  const slackPost = (body: string, options: { timestamp?: number; retryNum?: number; secret?: string } = {}) => {
    const signed = signedRequest(options.secret ?? SIGNING_SECRET, body, {
      timestamp: options.timestamp ?? now(),
      contentType: FORM,
      ...(options.retryNum !== undefined ? { retryNum: options.retryNum } : {}),
    });
    return fetch(`${url}/slack/events`, { method: 'POST', headers: signed.headers, body: signed.body });
  };
  const messageTsOf = (stepId: string) => {
    const m = slack.messages.find((msg) => JSON.stringify(msg.blocks ?? []).includes(stepId));
    return m ? { channel: m.channel, ts: m.ts } : { channel: CHANNEL, ts: '0' };
  };

  return {
    ctx,
    slack,
    pd,
    clock,
    get chat() {
      return chat;
    },
    url,
    databaseUrl: pg?.url,
    drain: () => worker.drain(),
    settle: async () => mounted?.idle(),
    async startRun(steps, trigger = {}, actor) {
      const definition = playbookSchema.parse({
        apiVersion: 'quench/v1',
        kind: 'Playbook',
        metadata: { name: 'checkout-rollback', owner: 'sre' },
        steps,
      });
      const event: TriggerEvent = {
        source: 'alertmanager',
        type: 'alert.firing',
        key: `alert-${++n}`,
        severity: 'critical',
        summary: 'Checkout error rate above SLO',
        labels: { service: 'checkout', alertname: 'CheckoutErrors' },
        annotations: {},
        occurredAt: clock.now(),
        resolved: false,
        ...trigger,
      };
      const { runId } = await ctx.ports.engine.startRun({
        playbook: { definition, hash: playbookHash(definition) },
        trigger: event,
        ...(actor ? { actor } : {}),
      });
      await worker.drain();
      return runId;
    },
    async waitingStep(runId, key) {
      const run = await ctx.ports.engine.getRun(runId);
      const step = run?.steps.find((s) => s.key === key);
      if (!step) throw new Error(`no step ${key} in run ${runId}`);
      return step.id;
    },
    slackPost,
    v1Decide: (stepId, token, body) =>
      fetch(`${url}/v1/steps/${stepId}/decision`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      }),
    async click(user, actionId, stepId, actionTs) {
      const p = people[user];
      const { channel, ts } = messageTsOf(stepId);
      return slackPost(
        interactionBody(
          buttonClick({
            user: { id: p.id, name: p.name },
            actionId,
            value: stepId,
            channel,
            messageTs: ts,
            actionTs: actionTs ?? `1767571300.${String(++n).padStart(6, '0')}`,
          }),
        ),
      );
    },
    async submitReject(user, stepId, reason, viewId) {
      const p = people[user];
      const payload = viewSubmission({
        user: { id: p.id, name: p.name },
        callbackId: 'quench_reject_reason',
        privateMetadata: `${stepId}|${CHANNEL}`,
        values: { reason: { value: reason } },
        viewId: viewId ?? `V${++n}`,
      });
      return slackPost(interactionBody(payload));
    },
    async command(user, text) {
      const p = people[user];
      return slackPost(
        slashCommandBody({
          command: '/quench',
          text,
          user_id: p.id,
          user_name: p.name,
          channel_id: CHANNEL,
          trigger_id: `trig-${++n}`,
          team_id: 'T0QUENCH',
          response_url: 'https://hooks.slack.com/commands/1',
        }),
      );
    },
    async restartChat() {
      await component.stop();
      // A fresh instance on the same database: nothing survives but what is stored.
      const again: ServiceContext = { ...ctx, router: new Router() };
      component = (await chatCapability(again)) as Component;
      await component.start();
      chat = chatInternals(again)!;
    },
    async close() {
      await http.close(100);
      await worker.stop(100);
      await component.stop();
      await ctx.db.close();
      await pg?.drop();
      await slack.close();
      await pd.close();
    },
  };
}
