import { afterEach, describe, expect, it } from 'vitest';
import { REVIEW_ACTION, REVIEW_VIEW } from '../../src/chat/core/review-blocks.js';
import { defaultApprovalPolicy } from '../../src/chat/core/auto-approval.js';
import type { PlaybookSource } from '../../src/playbooks/core/model.js';
import { databaseKinds } from '../support/databases.js';
import { interactionBody, viewSubmission } from '../support/slack-signer.js';
import { CHANNEL, people, type SlackHarness, startSlackHarness } from './slack-harness.js';

/**
 * Issue 15: auto-approvals sampled for review are listed (`/quench review`, `GET /v1/reviews`)
 * and marked reviewed (agree / disagree with a note) once, never by the run's starter, audited;
 * disagreements are counted. Every sampled step here: sampleShare 1.
 */
const TOKENS = {
  ada: 'tok-ada-0123456789abcdef0123456789ab',
  bob: 'tok-bob-0123456789abcdef0123456789ab',
  eve: 'tok-eve-0123456789abcdef0123456789ab',
};
const autoStep = [
  { id: 'restart', kind: 'human', type: 'approve', prompt: 'Restart the pods?', risk: 'low', confidence: 0.95, impact: 'low' },
  { id: 'done', kind: 'action', action: 'log', params: { message: 'restarted' } },
] as PlaybookSource['steps'];

describe.each(databaseKinds)('reviews of sampled auto-approvals (%s)', (kind) => {
  let h: SlackHarness;
  afterEach(async () => h?.close());

  const start = () => startSlackHarness(kind, { env: { QUENCH_APPROVAL_POLICY: JSON.stringify({ ...defaultApprovalPolicy, sampleShare: 1 }) } });
  const get = async (status = 'pending') => {
    const res = await fetch(`${h.url}/v1/reviews?status=${status}`, { headers: { Authorization: `Bearer ${TOKENS.eve}` } });
    return { status: res.status, body: (await res.json()) as { reviews: Array<Record<string, unknown>> } };
  };
  const post = (stepId: string, who: keyof typeof TOKENS | undefined, body: unknown) =>
    fetch(`${h.url}/v1/reviews/${stepId}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(who ? { Authorization: `Bearer ${TOKENS[who]}` } : {}) },
      body: JSON.stringify(body),
    });
  const autoRun = async (startedBy?: string) => {
    const runId = await h.startRun(autoStep, {}, startedBy ? { type: 'user', id: startedBy } : undefined);
    await h.drain();
    return { runId, stepId: await h.waitingStep(runId, 'restart') };
  };
  const metrics = async () => h.ctx.metrics.registry.metrics();
  const lastEphemeral = () => String(h.slack.callsTo('chat.postEphemeral').at(-1)?.args.text ?? '');

  it('lists pending reviews in Slack with buttons; Agree opens the note form; the review is recorded once and audited', async () => {
    h = await start();
    const a = await autoRun();
    const b = await autoRun();
    expect((await h.ctx.ports.engine.getRun(a.runId))?.state).toBe('succeeded');

    const listed = await get();
    expect(listed.status).toBe(200);
    // Oldest first; both were auto-approved at the same (manual) instant.
    expect(listed.body.reviews.map((r) => r.stepId).sort()).toEqual([a.stepId, b.stepId].sort());
    expect(listed.body.reviews.find((r) => r.stepId === a.stepId)).toMatchObject({
      runId: a.runId,
      playbook: 'checkout-rollback',
      step: 'restart',
      prompt: 'Restart the pods?',
      reason: 'auto-approved: confidence 0.95 (high) × impact low',
      startedBy: 'system:engine',
      review: null,
    });
    expect(await metrics()).toMatch(/^quench_reviews_pending 2$/m);

    const answer = (await (await h.command('ada', 'review')).json()) as { response_type: string; text: string; blocks: unknown[] };
    expect(answer.response_type).toBe('ephemeral');
    expect(answer.text).toBe('2 auto-approvals sampled for review');
    const shown = JSON.stringify(answer.blocks);
    for (const s of [a.stepId, b.stepId]) expect(shown).toContain(`"value":"${s}"`);
    expect(shown).toContain(REVIEW_ACTION.agree);
    expect(shown).toContain(REVIEW_ACTION.disagree);

    await h.click('ada', REVIEW_ACTION.agree, a.stepId);
    await h.settle();
    const opened = h.slack.callsTo('views.open').at(-1)!;
    const view = JSON.parse(String(opened.args.view)) as { callback_id: string; private_metadata: string };
    expect(view).toMatchObject({ callback_id: REVIEW_VIEW, private_metadata: `${a.stepId}|${CHANNEL}|agree` });
    const submit = viewSubmission({
      user: { id: people.ada.id, name: people.ada.name },
      callbackId: REVIEW_VIEW,
      privateMetadata: view.private_metadata,
      values: { note: { value: 'confidence came from a solid diagnosis' } },
      viewId: 'VREVIEW1',
    });
    expect((await h.slackPost(interactionBody(submit))).status).toBe(200);
    await h.settle();
    expect(lastEphemeral()).toBe(`Recorded: you agree with the auto-approval of *restart* (run \`${a.runId}\`).`);

    const reviewed = await get('reviewed');
    expect(reviewed.body.reviews).toHaveLength(1);
    expect(reviewed.body.reviews[0]!.review).toMatchObject({
      verdict: 'agree',
      note: 'confidence came from a solid diagnosis',
      by: 'ada (<@U0ADA>)',
      via: 'slack',
    });
    const audit = await h.ctx.audit.page({ limit: 1000 });
    expect(audit.find((e) => e.action === 'human_step.reviewed')).toMatchObject({
      actor: { type: 'user', id: 'U0ADA' },
      subject: { type: 'step', id: a.stepId },
      data: { verdict: 'agree', note: 'confidence came from a solid diagnosis', via: 'slack' },
    });
    expect(await metrics()).toMatch(/^quench_reviews_pending 1$/m);

    // Decided once: another person through /v1, and a click in Slack (no form opens), are refused.
    const again = await post(a.stepId, 'bob', { verdict: 'disagree' });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { message: string }).message).toContain('already reviewed by ada (<@U0ADA>)');
    const forms = h.slack.callsTo('views.open').length;
    await h.click('eve', REVIEW_ACTION.disagree, a.stepId);
    await h.settle();
    expect(h.slack.callsTo('views.open')).toHaveLength(forms);
    expect(lastEphemeral()).toContain('already reviewed');
    // A replayed submission of the same form changes nothing (the inbox key).
    await h.slackPost(interactionBody(submit));
    await h.settle();
    expect((await h.ctx.audit.page({ limit: 1000 })).filter((e) => e.action === 'human_step.reviewed')).toHaveLength(1);
    expect((await h.ctx.audit.page({ limit: 1000 })).filter((e) => e.action === 'human_step.review_refused')).toHaveLength(2);
  }, 120_000);

  it("the run's starter may not review it, on any path; someone else's disagreement is counted", async () => {
    h = await start();
    const { stepId } = await autoRun('bob@example.com');

    const viaApi = await post(stepId, 'bob', { verdict: 'disagree' });
    expect(viaApi.status).toBe(403);
    expect(((await viaApi.json()) as { message: string }).message).toContain('you started this run');
    // In Slack bob is U0BOB, whose profile email is bob@example.com: the same person.
    await h.click('bob', REVIEW_ACTION.agree, stepId);
    await h.settle();
    expect(lastEphemeral()).toContain('you started this run');
    expect(h.slack.callsTo('views.open')).toHaveLength(0);

    const eve = await post(stepId, 'eve', { verdict: 'disagree', note: 'impact was not low: it restarts every pod' });
    expect(eve.status).toBe(200);
    expect(((await eve.json()) as { review: unknown }).review).toMatchObject({ verdict: 'disagree', by: 'eve@example.com', via: 'api' });
    const text = await metrics();
    expect(text).toMatch(/^quench_review_disagreements_total\{playbook="checkout-rollback"\} 1$/m);
    expect(text).toMatch(/^quench_reviews_pending 0$/m);
    const refused = (await h.ctx.audit.page({ limit: 1000 })).filter((e) => e.action === 'human_step.review_refused');
    expect(refused.map((e) => (e.data as { code: string; via: string }).code)).toEqual(['own_run', 'own_run']);
    expect(refused.map((e) => (e.data as { code: string; via: string }).via)).toEqual(['api', 'slack']);
  });

  it('concurrent reviews of one step: exactly one is recorded; bad input is refused with what to fix', async () => {
    h = await start();
    const { stepId } = await autoRun();
    const answers = await Promise.all([post(stepId, 'ada', { verdict: 'agree' }), post(stepId, 'eve', { verdict: 'disagree' })]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 409]);
    expect((await get('all')).body.reviews).toHaveLength(1);

    expect((await post(stepId, undefined, { verdict: 'agree' })).status).toBe(401);
    const bad = await post(stepId, 'ada', { verdict: 'maybe' });
    expect(bad.status).toBe(400);
    expect((await post('no-such-step', 'ada', { verdict: 'agree' })).status).toBe(404);
    expect((await get('bogus')).status).toBe(400);
    // A step that was not sampled (a human decided it) is not reviewable.
    const human = await h.startRun([{ id: 'ask', kind: 'human', type: 'approve', prompt: 'Go?' }] as PlaybookSource['steps']);
    expect((await post(await h.waitingStep(human, 'ask'), 'ada', { verdict: 'agree' })).status).toBe(404);
  });
});
