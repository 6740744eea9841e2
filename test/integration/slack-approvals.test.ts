import { afterEach, describe, expect, it } from 'vitest';
import { ACTION } from '../../src/chat/core/blocks.js';
import { interactionBody, viewSubmission } from '../support/slack-signer.js';
import { approvalSteps, CHANNEL, type SlackHarness, startSlackHarness } from './slack-harness.js';

/**
 * End to end through Quench's HTTP server: an alert starts a run, its human step is offered in
 * Slack to the PagerDuty on-call, and signed Slack interactions decide it.
 */
const approveStep = (extra: Record<string, unknown> = {}) =>
  approvalSteps({
    prompt: 'Roll back checkout to the previous release?',
    description: 'Error rate is above the SLO since the last deploy.',
    ...extra,
  });

const hasButtons = (blocks: unknown[] | undefined) => JSON.stringify(blocks ?? []).includes(ACTION.approve);

describe('human steps in Slack', () => {
  let h: SlackHarness;
  afterEach(async () => h?.close());

  it('offers the step to the PagerDuty on-call; their approval advances the run and updates the message', async () => {
    h = await startSlackHarness();
    const runId = await h.startRun(approveStep());
    const stepId = await h.waitingStep(runId, 'approveRollback');

    // On-call lookup went through PagerDuty, then Slack by email.
    expect(h.pd.requests.some((r) => r.path === '/rest/oncalls')).toBe(true);
    expect(h.slack.callsTo('users.lookupByEmail').map((c) => c.args.email)).toContain('ada@example.com');
    const header = h.slack.messages.find((m) => m.channel === CHANNEL && !m.threadTs)!;
    expect(header.text).toContain('Checkout error rate above SLO');
    const message = h.slack.messages.find((m) => m.threadTs === header.ts)!;
    expect(message.text).toContain('<@U0ADA>');
    const shown = JSON.stringify(message.blocks);
    expect(shown).toContain('Roll back checkout');
    expect(shown).toContain('Checkout error rate above SLO');
    expect(shown).toContain('*Risk:* low');
    expect(hasButtons(message.blocks)).toBe(true);

    const res = await h.click('ada', ACTION.approve, stepId);
    expect(res.status).toBe(200);
    await h.settle();
    await h.drain();

    const run = await h.ctx.ports.engine.getRun(runId);
    expect(run?.state).toBe('succeeded');
    const updated = h.slack.message(message.channel, message.ts)!;
    expect(hasButtons(updated.blocks)).toBe(false);
    expect(JSON.stringify(updated.blocks)).toMatch(/Approved by <@U0ADA> at/);
    const audit = await h.ctx.audit.page({ limit: 1000 });
    const decided = audit.find((e) => e.action === 'human_step.decided')!;
    expect(decided.data).toMatchObject({ slackUserId: 'U0ADA', name: 'Ada Oncall', decision: 'approve' });
  });

  it("refuses someone else's click with an ephemeral message, audits it, and leaves the step waiting", async () => {
    h = await startSlackHarness();
    const runId = await h.startRun(approveStep());
    const stepId = await h.waitingStep(runId, 'approveRollback');

    expect((await h.click('eve', ACTION.approve, stepId)).status).toBe(200);
    await h.settle();
    await h.drain();

    const ephemeral = h.slack.callsTo('chat.postEphemeral');
    expect(ephemeral).toHaveLength(1);
    expect(ephemeral[0]!.args.user).toBe('U0EVE');
    expect(String(ephemeral[0]!.args.text)).toContain("Only the step's assignees");
    expect((await h.ctx.ports.engine.getRun(runId))?.steps.find((s) => s.id === stepId)?.status).toBe('waiting');
    const refused = (await h.ctx.audit.page({ limit: 1000 })).find((e) => e.action === 'human_step.refused')!;
    expect(refused.data).toMatchObject({ slackUserId: 'U0EVE', name: 'Eve Bystander', code: 'not_assignee' });
    // The Reject button does not even open the form for a non-assignee.
    await h.click('eve', ACTION.reject, stepId);
    await h.settle();
    expect(h.slack.callsTo('views.open')).toHaveLength(0);
    expect(h.slack.callsTo('chat.postEphemeral')).toHaveLength(2);
  });

  it('needs two distinct approvers for a high-risk step', async () => {
    h = await startSlackHarness();
    const runId = await h.startRun(approveStep({ risk: 'high', assign: { users: ['U0ADA', 'bob@example.com'] } }));
    const stepId = await h.waitingStep(runId, 'approveRollback');

    await h.click('ada', ACTION.approve, stepId);
    await h.settle();
    await h.drain();
    expect((await h.ctx.ports.engine.getRun(runId))?.state).not.toBe('succeeded');
    const message = h.slack.messages.find((m) => m.threadTs && JSON.stringify(m.blocks).includes(stepId))!;
    expect(JSON.stringify(h.slack.message(message.channel, message.ts)!.blocks)).toContain('approved by <@U0ADA>');
    expect(hasButtons(h.slack.message(message.channel, message.ts)!.blocks)).toBe(true);

    // The same person again is refused; a second, different assignee completes it.
    await h.click('ada', ACTION.approve, stepId);
    await h.settle();
    expect(String(h.slack.callsTo('chat.postEphemeral').at(-1)?.args.text)).toContain('already approved');
    await h.click('bob', ACTION.approve, stepId);
    await h.settle();
    await h.drain();
    expect((await h.ctx.ports.engine.getRun(runId))?.state).toBe('succeeded');
    const step = (await h.ctx.ports.engine.getRun(runId))?.steps.find((s) => s.id === stepId) as { output?: { by?: string[] } };
    expect(step.output?.by).toEqual(['U0ADA', 'U0BOB']);
  });

  it('rejects through the modal with a required reason', async () => {
    h = await startSlackHarness();
    const runId = await h.startRun(approveStep());
    const stepId = await h.waitingStep(runId, 'approveRollback');

    await h.click('ada', ACTION.reject, stepId);
    await h.settle();
    const opened = h.slack.callsTo('views.open');
    expect(opened).toHaveLength(1);
    expect(String(opened[0]!.args.view)).toContain('quench_reject_reason');

    const empty = await h.submitReject('ada', stepId, '   ');
    expect(await empty.json()).toEqual({ response_action: 'errors', errors: { reason: 'A rejection needs a reason.' } });
    await h.submitReject('ada', stepId, 'the deploy is not the cause');
    await h.settle();
    await h.drain();

    const run = await h.ctx.ports.engine.getRun(runId);
    expect(run?.steps.find((s) => s.id === stepId)?.status).toBe('failed');
    const message = h.slack.messages.find((m) => m.threadTs && JSON.stringify(m.blocks).includes(stepId))!;
    const blocks = JSON.stringify(h.slack.message(message.channel, message.ts)!.blocks);
    expect(blocks).toContain('Rejected by <@U0ADA>');
    expect(blocks).toContain('the deploy is not the cause');
    expect(hasButtons(h.slack.message(message.channel, message.ts)!.blocks)).toBe(false);
  });

  it('does not let the person who started the run approve its step', async () => {
    h = await startSlackHarness();
    const runId = await h.startRun(approveStep({ assign: { users: ['U0ADA', 'U0BOB'] } }), {}, { type: 'user', id: 'ada@example.com' });
    const stepId = await h.waitingStep(runId, 'approveRollback');
    await h.click('ada', ACTION.approve, stepId);
    await h.settle();
    expect(String(h.slack.callsTo('chat.postEphemeral').at(-1)?.args.text)).toContain('You started this run');
    expect((await h.ctx.ports.engine.getRun(runId))?.steps.find((s) => s.id === stepId)?.status).toBe('waiting');
  });

  it('reassigns through the modal: the new assignee decides, the old one no longer can', async () => {
    h = await startSlackHarness();
    const runId = await h.startRun(approveStep());
    const stepId = await h.waitingStep(runId, 'approveRollback');
    await h.click('ada', ACTION.reassign, stepId);
    await h.settle();
    expect(String(h.slack.callsTo('views.open')[0]!.args.view)).toContain('users_select');
    const submit = viewSubmission({
      user: { id: 'U0ADA', name: 'ada' },
      callbackId: 'quench_reassign_to',
      privateMetadata: `${stepId}|${CHANNEL}`,
      values: { to: { value: 'U0BOB' } },
    });
    expect((await h.slackPost(interactionBody(submit))).status).toBe(200);
    await h.settle();
    const message = h.slack.messages.find((m) => m.threadTs && JSON.stringify(m.blocks).includes(stepId))!;
    expect(JSON.stringify(h.slack.message(message.channel, message.ts)!.blocks)).toContain('Assigned to <@U0BOB>');
    const reassigned = (await h.ctx.audit.page({ limit: 1000 })).find((e) => e.action === 'human_step.reassigned')!;
    expect(reassigned.data).toMatchObject({ by: { slackUserId: 'U0ADA' }, to: [{ slackUserId: 'U0BOB', name: 'Bob Second' }] });

    await h.click('ada', ACTION.approve, stepId);
    await h.settle();
    expect(String(h.slack.callsTo('chat.postEphemeral').at(-1)?.args.text)).toContain("Only the step's assignees");
    await h.click('bob', ACTION.approve, stepId);
    await h.settle();
    await h.drain();
    expect((await h.ctx.ports.engine.getRun(runId))?.state).toBe('succeeded');
    expect(await h.ctx.metrics.registry.metrics()).toMatch(
      /quench_human_step_reassignments_total\{playbook="checkout-rollback",reason="manual"\} 1/,
    );
  });
});
