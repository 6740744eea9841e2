import { eq } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { ACTION } from '../../src/chat/core/blocks.js';
import { chatHumanSteps } from '../../src/chat/schema.js';
import { enqueueInbox } from '../../src/chat/store.js';
import { noNotifier } from '../../src/engine/notifier.js';
import type { PlaybookSource } from '../../src/playbooks/core/model.js';
import { type SlackHarness, startSlackHarness } from './slack-harness.js';

/** Slack user-group assignment under a WIP limit, the priority queue, cancellation, and offers missed by a crash. */
const groupStep = [
  {
    id: 'approve',
    kind: 'human',
    type: 'approve',
    prompt: 'Restart the pods?',
    assign: { slack: { userGroup: 'S0ONCALL', strategy: 'round-robin', wipLimit: 1 } },
  },
] as PlaybookSource['steps'];
const pdStep = [
  { id: 'approve', kind: 'human', type: 'approve', prompt: 'Restart the pods?', assign: { pagerduty: { escalationPolicy: 'PEP1' } } },
] as PlaybookSource['steps'];

const offer = async (h: SlackHarness, stepId: string) =>
  (await h.ctx.db.orm.select().from(chatHumanSteps).where(eq(chatHumanSteps.stepId, stepId)))[0]!;
const buttonsOf = (h: SlackHarness, stepId: string) => {
  const m = h.slack.messages.find((msg) => msg.threadTs && JSON.stringify(msg.blocks).includes(stepId))!;
  return JSON.stringify(h.slack.message(m.channel, m.ts)!.blocks);
};

describe('assignment and queues', () => {
  let h: SlackHarness;
  afterEach(async () => h?.close());

  it('queues steps past the WIP limit and offers the highest severity first when capacity frees', async () => {
    h = await startSlackHarness();
    h.slack.setGroup('S0ONCALL', ['U0ADA']);
    const a = await h.waitingStep(await h.startRun(groupStep, { severity: 'warning', summary: 'A' }), 'approve');
    const b = await h.waitingStep(await h.startRun(groupStep, { severity: 'warning', summary: 'B' }), 'approve');
    const c = await h.waitingStep(await h.startRun(groupStep, { severity: 'critical', summary: 'C' }), 'approve');
    expect((await offer(h, a)).status).toBe('offered');
    expect([(await offer(h, b)).status, (await offer(h, c)).status]).toEqual(['queued', 'queued']);
    expect(buttonsOf(h, b)).toContain('nobody yet (queued)');

    await h.click('ada', ACTION.approve, a);
    await h.settle();
    // C is critical, so it goes before B although B waited longer.
    expect((await offer(h, c)).status).toBe('offered');
    expect((await offer(h, c)).assignees).toEqual([expect.objectContaining({ slackId: 'U0ADA' })]);
    expect((await offer(h, b)).status).toBe('queued');
    expect(buttonsOf(h, c)).toContain('Assigned to <@U0ADA>');
  });

  it('updates the message in place when the run is cancelled: no stale buttons', async () => {
    h = await startSlackHarness();
    const runId = await h.startRun(pdStep);
    const stepId = await h.waitingStep(runId, 'approve');
    expect(buttonsOf(h, stepId)).toContain(ACTION.approve);
    await h.ctx.ports.engine.cancel(runId, { type: 'user', id: 'ada@example.com' }, 'false alarm');
    expect(buttonsOf(h, stepId)).not.toContain(ACTION.approve);
    expect(buttonsOf(h, stepId)).toContain('Cancelled');
    expect((await offer(h, stepId)).status).toBe('cancelled');
  });

  it('offers at start a waiting step whose notification was lost', async () => {
    h = await startSlackHarness();
    h.ctx.ports.engine.setNotifier(noNotifier);
    const stepId = await h.waitingStep(await h.startRun(pdStep), 'approve');
    expect(h.slack.messages.some((m) => JSON.stringify(m.blocks).includes(stepId))).toBe(false);
    await h.restartChat();
    expect(buttonsOf(h, stepId)).toContain(ACTION.approve);
    expect((await offer(h, stepId)).assignees).toEqual([expect.objectContaining({ slackId: 'U0ADA' })]);
  });

  it('handles an acknowledged click that a crash left unprocessed, once', async () => {
    h = await startSlackHarness();
    const runId = await h.startRun(pdStep);
    const stepId = await h.waitingStep(runId, 'approve');
    // As if the process died right after acknowledging Ada's click: the inbox row is all that is left.
    await enqueueInbox(
      h.ctx.db,
      'action:U0ADA:1767571300.999999:quench_approve',
      { kind: 'decide', stepId, decision: 'approve', slackUserId: 'U0ADA', channel: 'C0INCIDENT' },
      h.clock.now(),
    );
    expect(await h.chat.sweep()).toBe(1);
    await h.drain();
    expect((await h.ctx.ports.engine.getRun(runId))?.state).toBe('succeeded');
    expect(await h.chat.sweep()).toBe(0);
    expect(buttonsOf(h, stepId)).toContain('Approved by <@U0ADA>');
  });

  it('shows a step that ran out of time as timed out, without buttons', async () => {
    h = await startSlackHarness();
    const runId = await h.startRun([{ ...pdStep[0]!, timeout: '15m' }] as PlaybookSource['steps']);
    const stepId = await h.waitingStep(runId, 'approve');
    h.clock.advance(15 * 60_000);
    await h.drain();
    expect((await offer(h, stepId)).status).toBe('timed_out');
    expect(buttonsOf(h, stepId)).not.toContain(ACTION.approve);
    expect(buttonsOf(h, stepId)).toContain('Timed out');
  });
});
