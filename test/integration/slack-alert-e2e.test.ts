import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ACTION } from '../../src/chat/core/blocks.js';
import { loadConfig } from '../../src/config/load.js';
import { type RunningService, startService } from '../../src/service.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { type FakePagerDuty, startFakePagerDuty } from '../support/fake-pagerduty.js';
import { type FakeSlack, startFakeSlack } from '../support/fake-slack.js';
import { buttonClick, FORM, interactionBody, signedRequest } from '../support/slack-signer.js';

/**
 * The whole service as `quench serve` runs it (real workers, real clock): a signed generic
 * webhook alert starts the playbook's run, its human step goes to the PagerDuty on-call in
 * Slack, and the on-call's click finishes the run. The service works in the background, so the
 * test waits for observable conditions (with a deadline), never for fixed times.
 */
const PLAYBOOK = `apiVersion: quench/v1
kind: Playbook
metadata:
  name: checkout-rollback
  owner: sre
triggers:
  - source: generic:monitor
    type: alert.firing
steps:
  - id: approveRollback
    kind: human
    type: approve
    prompt: Roll back checkout?
    assign:
      pagerduty:
        escalationPolicy: PEP1
  - id: page
    kind: action
    action: pagerduty.trigger
    params:
      summary: Checkout rolled back
`;

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, deadlineMs = 30_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('alert to approval through the running service', () => {
  let service: RunningService | undefined;
  let slack: FakeSlack;
  let pd: FakePagerDuty;
  let dir: string;
  afterEach(async () => {
    await service?.stop();
    await slack?.close();
    await pd?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a webhook alert starts a run that offers its step to the on-call, and their click finishes the run', async () => {
    dir = mkdtempSync(join(tmpdir(), 'quench-slack-'));
    const playbooks = join(dir, 'playbooks');
    const slos = join(dir, 'slo');
    mkdirSync(playbooks);
    mkdirSync(slos);
    writeFileSync(join(playbooks, 'checkout.yaml'), PLAYBOOK);
    slack = await startFakeSlack({ users: [{ id: 'U0ADA', name: 'ada', realName: 'Ada Oncall', email: 'ada@example.com' }] });
    pd = await startFakePagerDuty({
      users: [{ id: 'PU1', name: 'Ada Oncall', email: 'ada@example.com' }],
      policies: [{ id: 'PEP1', name: 'Checkout', rules: [{ delayMinutes: 10, targets: [{ type: 'user', id: 'PU1' }] }] }],
    });
    const config = loadConfig({
      QUENCH_DATA_DIR: 'memory://',
      QUENCH_PLAYBOOK_DIR: playbooks,
      QUENCH_SLO_DIR: slos,
      QUENCH_WEBHOOK_SECRETS: 'monitor=webhook-secret',
      SLACK_BOT_TOKEN: 'xoxb-test-token',
      SLACK_SIGNING_SECRET: 'test-signing-secret',
      SLACK_API_URL: slack.url,
      QUENCH_SLACK_CHANNEL: 'C0INCIDENT',
      PAGERDUTY_TOKEN: 'pd-test-token',
      PAGERDUTY_API_URL: pd.apiUrl,
      PAGERDUTY_EVENTS_URL: pd.eventsUrl,
      PAGERDUTY_ROUTING_KEY: 'R0UTINGKEY0000000000000000000000',
    });
    service = await startService(config, { logger: silentLogger, port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${service.port}`;

    const alert = JSON.stringify({
      id: 'alert-1',
      type: 'alert.firing',
      severity: 'critical',
      summary: 'Checkout 5xx above SLO',
      labels: { service: 'checkout' },
    });
    const ts = String(Math.floor(Date.now() / 1000));
    const signature = `sha256=${createHmac('sha256', 'webhook-secret').update(`${ts}.${alert}`).digest('hex')}`;
    const accepted = await fetch(`${base}/webhooks/generic/monitor`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Quench-Timestamp': ts, 'X-Quench-Signature': signature },
      body: alert,
    });
    expect(accepted.status).toBe(202);

    const message = await until('the step message in the incident thread', () =>
      slack.messages.find((m) => m.threadTs && m.text.includes('<@U0ADA>')),
    );
    expect(slack.messages.find((m) => !m.threadTs)?.text).toContain('Checkout 5xx above SLO');
    const stepId = /Step `([^`]+)`/.exec(JSON.stringify(message.blocks).replace(/\\`/g, '`'))?.[1];
    expect(stepId).toBeDefined();

    const click = interactionBody(
      buttonClick({
        user: { id: 'U0ADA', name: 'ada' },
        actionId: ACTION.approve,
        value: stepId!,
        channel: message.channel,
        messageTs: message.ts,
      }),
    );
    const signed = signedRequest('test-signing-secret', click, { timestamp: Math.floor(Date.now() / 1000), contentType: FORM });
    expect((await fetch(`${base}/slack/events`, { method: 'POST', headers: signed.headers, body: signed.body })).status).toBe(200);

    // The approval advanced the run: the next step paged through PagerDuty with the run's correlation id.
    const event = await until('the PagerDuty trigger', () => pd.events.find((e) => e.event_action === 'trigger'));
    const runs = await service.ctx.ports.engine.listRuns();
    expect(event.dedup_key).toBe(runs[0]!.correlationId);
    await until('the run to succeed', async () =>
      (await service!.ctx.ports.engine.getRun(runs[0]!.id))?.state === 'succeeded' ? true : undefined,
    );
    await until(
      'the message to lose its buttons',
      () => !JSON.stringify(slack.message(message.channel, message.ts)!.blocks).includes(ACTION.approve) || undefined,
    );
    expect(JSON.stringify(slack.message(message.channel, message.ts)!.blocks)).toContain('Approved by <@U0ADA>');
  });
});
