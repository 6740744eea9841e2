import { afterEach, describe, expect, it } from 'vitest';
import { ACTION } from '../../src/chat/core/blocks.js';
import { interactionBody, viewSubmission } from '../support/slack-signer.js';
import { approvalSteps, CHANNEL, type SlackHarness, startSlackHarness } from './slack-harness.js';

/**
 * A way around four-eyes found while closing issue 9 §2: the first approver of a `risk: high`
 * step reassigns it to a person of their choosing, who then approves it as the "second" pair
 * of eyes. Someone who has approved a step may no longer reassign it; the refusal is audited.
 */
describe('reassigning a four-eyes step', () => {
  let h: SlackHarness;
  afterEach(async () => h?.close());

  const reassign = async (from: { id: string; name: string }, stepId: string, to: string, viewId: string) => {
    const submit = viewSubmission({
      user: from,
      callbackId: 'quench_reassign_to',
      privateMetadata: `${stepId}|${CHANNEL}`,
      values: { to: { value: to } },
      viewId,
    });
    expect((await h.slackPost(interactionBody(submit))).status).toBe(200);
    await h.settle();
  };

  it('refuses a reassignment by someone who already approved, so they cannot pick their second approver', async () => {
    h = await startSlackHarness();
    const runId = await h.startRun(approvalSteps({ risk: 'high', assign: { users: ['ada@example.com', 'bob@example.com'] } }));
    const stepId = await h.waitingStep(runId, 'approveRollback');
    await h.click('ada', ACTION.approve, stepId);
    await h.settle();

    await reassign({ id: 'U0ADA', name: 'ada' }, stepId, 'U0EVE', 'VREASSIGN1');
    expect(String(h.slack.callsTo('chat.postEphemeral').at(-1)?.args.text)).toContain('You have approved this step');
    const refused = (await h.ctx.audit.page({ limit: 1000 })).filter((e) => e.action === 'human_step.refused' && e.subject.id === stepId);
    expect(refused.at(-1)?.data).toMatchObject({ attempted: 'reassign', code: 'already_approved', via: 'slack' });

    // eve was never made an assignee, so her approval is refused and the step still waits.
    await h.click('eve', ACTION.approve, stepId);
    await h.settle();
    await h.drain();
    expect((await h.ctx.ports.engine.getRun(runId))?.steps.find((s) => s.id === stepId)?.status).toBe('waiting');

    // The other assignee, who has not approved, may still hand the step on.
    await reassign({ id: 'U0BOB', name: 'bob' }, stepId, 'U0EVE', 'VREASSIGN2');
    expect((await h.ctx.audit.page({ limit: 1000 })).some((e) => e.action === 'human_step.reassigned' && e.subject.id === stepId)).toBe(
      true,
    );
  });
});
