import { afterEach, describe, expect, it } from 'vitest';
import { ACTION } from '../../src/chat/core/blocks.js';
import { databaseKinds } from '../support/databases.js';
import { buttonClick, interactionBody, slashCommandBody } from '../support/slack-signer.js';
import { approvalSteps, CHANNEL, type SlackHarness, startSlackHarness } from './slack-harness.js';

/** Request authenticity, repeats, Slack's rate limits, SLA timers and slash commands, end to end. */
const steps = approvalSteps;

const count = async (h: SlackHarness, action: string) =>
  (await h.ctx.audit.page({ limit: 1000 })).filter((e) => e.action === action).length;
const stepStatus = async (h: SlackHarness, runId: string, stepId: string) =>
  (await h.ctx.ports.engine.getRun(runId))?.steps.find((s) => s.id === stepId)?.status;

describe.each(databaseKinds)('Slack request safety on %s', (kind) => {
  let h: SlackHarness;
  afterEach(async () => h?.close());

  it('rejects badly signed and replayed requests with 401 and changes nothing', async () => {
    h = await startSlackHarness(kind);
    const runId = await h.startRun(steps());
    const stepId = await h.waitingStep(runId, 'approveRollback');
    const message = h.slack.messages.find((m) => m.threadTs)!;
    const body = interactionBody(
      buttonClick({ user: { id: 'U0ADA', name: 'ada' }, actionId: ACTION.approve, value: stepId, channel: CHANNEL, messageTs: message.ts }),
    );
    const before = (await h.ctx.audit.page({ limit: 1000 })).length;

    const forged = await h.slackPost(body, { secret: 'not-the-secret' });
    expect(forged.status).toBe(401);
    expect(((await forged.json()) as { message: string }).message).toContain('SLACK_SIGNING_SECRET');
    const nowS = Math.floor(h.clock.now().getTime() / 1000);
    expect((await h.slackPost(body, { timestamp: nowS - 6 * 60 })).status).toBe(401);
    const unsigned = await fetch(`${h.url}/slack/events`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body,
    });
    expect(unsigned.status).toBe(401);
    await h.settle();
    await h.drain();

    expect(await stepStatus(h, runId, stepId)).toBe('waiting');
    expect((await h.ctx.audit.page({ limit: 1000 })).length).toBe(before);
    expect(h.slack.callsTo('chat.postEphemeral')).toHaveLength(0);
    expect(h.slack.message(message.channel, message.ts)!.history).toHaveLength(1);
  });

  it('a Slack API that failed auth.test while the service started does not lock Slack out afterwards', async () => {
    // Bolt checks the bot token with auth.test when it is built and kept the answer for ever:
    // a Slack blip at start-up made every later click and command fail until a restart, and
    // the failed check was an unhandled rejection.
    const unhandled: unknown[] = [];
    const onRejection = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      h = await startSlackHarness(kind, { beforeStart: (slack) => slack.failNext('auth.test', 'service_unavailable') });
      const runId = await h.startRun(steps());
      const stepId = await h.waitingStep(runId, 'approveRollback');
      expect((await h.click('ada', ACTION.approve, stepId)).status).toBe(200);
      await h.settle();
      expect(await stepStatus(h, runId, stepId)).toBe('succeeded');
      expect((await h.command('ada', 'status')).status).toBe(200);
      await new Promise((r) => setTimeout(r, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });

  it('decides a step once under double clicks and Slack retries', async () => {
    h = await startSlackHarness(kind);
    const runId = await h.startRun(steps());
    const stepId = await h.waitingStep(runId, 'approveRollback');
    const message = h.slack.messages.find((m) => m.threadTs)!;
    const click = interactionBody(
      buttonClick({
        user: { id: 'U0ADA', name: 'ada' },
        actionId: ACTION.approve,
        value: stepId,
        channel: CHANNEL,
        messageTs: message.ts,
        actionTs: '1767571300.000001',
      }),
    );

    // A double click: two different clicks arriving together.
    const [a, b] = await Promise.all([h.click('ada', ACTION.approve, stepId), h.click('ada', ACTION.approve, stepId)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    // A retry and a replay within the window of a third click: same body, so the same inbox key.
    await h.slackPost(click);
    await h.slackPost(click, { retryNum: 1 });
    await h.slackPost(click, { retryNum: 2 });
    await h.settle();
    await h.drain();

    expect(await stepStatus(h, runId, stepId)).toBe('succeeded');
    expect(await count(h, 'step.decided')).toBe(1);
    expect(await count(h, 'human_step.decided')).toBe(1);
    // The later clicks were told it is already decided; the retries were not processed at all.
    const ephemerals = h.slack.callsTo('chat.postEphemeral').map((c) => String(c.args.text));
    expect(ephemerals).toHaveLength(2);
    for (const text of ephemerals) expect(text).toMatch(/already approved/);
    expect((await h.ctx.ports.engine.getRun(runId))?.state).toBe('succeeded');
  });

  it("honours Slack's 429 Retry-After before posting", async () => {
    h = await startSlackHarness(kind);
    h.slack.rateLimit('chat.postMessage', 1);
    const runId = await h.startRun(steps());
    await h.waitingStep(runId, 'approveRollback');
    const posts = h.slack.callsTo('chat.postMessage');
    expect(posts[0]!.status).toBe(429);
    expect(posts[1]!.status).toBe(200);
    // Slack asked for 1 s; the client waited at least that long before the retry.
    expect(posts[1]!.at - posts[0]!.at).toBeGreaterThanOrEqual(1000);
    expect(h.slack.messages.filter((m) => m.channel === CHANNEL)).toHaveLength(2);
  });
});

describe.each(databaseKinds)('SLA reminders and escalation on %s', (kind) => {
  let h: SlackHarness;
  afterEach(async () => h?.close());

  it('reminds at half the SLA, escalates to the next PagerDuty level at the end, and survives a restart', async () => {
    h = await startSlackHarness(kind);
    const runId = await h.startRun(steps({ sla: { within: '10m', remindAt: 0.5, escalateTo: 'next-level' } }));
    const stepId = await h.waitingStep(runId, 'approveRollback');
    const threadPosts = () => h.slack.messages.filter((m) => m.threadTs).map((m) => m.text);

    h.clock.advance(5 * 60_000 - 1000);
    expect(await h.chat.fireDueTimers()).toBe(0);
    h.clock.advance(1000);
    expect(await h.chat.fireDueTimers()).toBe(1);
    expect(threadPosts().at(-1)).toMatch(/<@U0ADA> reminder: \*approveRollback\* has waited 5m 0s of its 10m 0s SLA/);
    expect(await count(h, 'human_step.reminded')).toBe(1);
    expect(await h.chat.fireDueTimers()).toBe(0);

    // A restart between the reminder and the escalation: the timer is in the database.
    await h.restartChat();
    h.clock.advance(5 * 60_000);
    expect(await h.chat.fireDueTimers()).toBe(1);
    expect(threadPosts().at(-1)).toMatch(/<@U0BOB> escalated: \*approveRollback\* is past its 10m 0s SLA/);
    const escalated = (await h.ctx.audit.page({ limit: 1000 })).find((e) => e.action === 'human_step.escalated')!;
    expect(escalated.data).toMatchObject({ level: 2, added: [expect.objectContaining({ slackUserId: 'U0BOB', name: 'Bob Second' })] });
    expect(await h.chat.fireDueTimers()).toBe(0);
    const metrics = await h.ctx.metrics.registry.metrics();
    expect(metrics).toMatch(/quench_human_step_reminders_total\{playbook="checkout-rollback"\} 1/);
    expect(metrics).toMatch(/quench_human_step_escalations_total\{playbook="checkout-rollback"\} 1/);
    expect(metrics).toMatch(/quench_human_step_sla_breaches_total\{playbook="checkout-rollback"\} 1/);

    // The escalation target may now decide; the on-call still may too.
    await h.click('bob', ACTION.approve, stepId);
    await h.settle();
    await h.drain();
    expect((await h.ctx.ports.engine.getRun(runId))?.state).toBe('succeeded');
    expect(await h.ctx.metrics.registry.metrics()).toMatch(
      /quench_human_step_decision_seconds_count\{playbook="checkout-rollback",outcome="approve"\} 1/,
    );
  });
});

describe('/quench slash command', () => {
  let h: SlackHarness;
  afterEach(async () => h?.close());

  it('answers status and runs, and acknowledges a run in its header', async () => {
    h = await startSlackHarness();
    const runId = await h.startRun(steps());
    type Reply = { response_type: string; text: string };
    const reply = async (user: 'eve' | 'bob', text: string) => (await (await h.command(user, text)).json()) as Reply;
    const status = await reply('eve', 'status');
    expect(status.response_type).toBe('ephemeral');
    expect(status.text).toContain(runId);
    expect(status.text).toContain('Human steps waiting (1)');
    expect((await reply('eve', 'runs')).text).toContain(`\`${runId}\` checkout-rollback: waiting`);
    expect((await reply('eve', 'bogus')).text).toContain('Usage');

    // `ack` answers at once and reports once done (it may call PagerDuty): test/integration/slack-ack.test.ts.
    const acked = await reply('bob', `ack ${runId}`);
    expect(acked.text).toBe(`Acknowledging run \`${runId}\`…`);
    await h.settle();
    expect(String(h.slack.callsTo('chat.postEphemeral').at(-1)!.args.text)).toContain(`Run \`${runId}\` acknowledged by bob (<@U0BOB>).`);
    const header = h.slack.messages.find((m) => m.channel === CHANNEL && !m.threadTs)!;
    expect(JSON.stringify(h.slack.message(header.channel, header.ts)!.blocks)).toContain('Acknowledged by bob (<@U0BOB>)');
    expect((await h.ctx.audit.page({ limit: 1000 })).find((e) => e.action === 'run.acknowledged')?.actor).toEqual({ type: 'user', id: 'U0BOB' });
  });

  it('a command Slack sends again (same trigger_id) runs once and says so', async () => {
    h = await startSlackHarness();
    const body = slashCommandBody({ command: '/quench', text: 'drill nosuch', user_id: 'U0ADA', user_name: 'ada', channel_id: CHANNEL, trigger_id: 'trig-again', team_id: 'T0QUENCH', response_url: 'https://hooks.slack.com/commands/1' });
    const first = (await (await h.slackPost(body)).json()) as { text: string };
    expect(first.text).not.toMatch(/already received/);
    const again = await h.slackPost(body, { retryNum: 1 });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { text: string }).text).toMatch(/already received this command/);
  });
});
