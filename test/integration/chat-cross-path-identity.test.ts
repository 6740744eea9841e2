import { afterEach, describe, expect, it } from 'vitest';
import { ACTION } from '../../src/chat/core/blocks.js';
import { systemClock } from '../../src/core/clock.js';
import type { PlaybookSource } from '../../src/playbooks/core/model.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';
import { playbook, testEngine } from './engine-harness.js';
import { type SlackHarness, startSlackHarness } from './slack-harness.js';

/**
 * One person, two paths, one approval. Ada is `U0ADA` in Slack and `ada@example.com` to the API
 * (her token's name, and her Slack profile email). On a `risk: high` step that anyone may decide
 * (no `assign`: no assignee list to link her names), her Slack approval and her /v1 approval
 * must not count as two people, in either order; and when Slack cannot say who clicked, the
 * click decides nothing rather than pass as a stranger.
 */
const TOKENS = { ada: 'tok-ada-0123456789abcdef0123456789ab', bob: 'tok-bob-0123456789abcdef0123456789ab' };

const openFourEyes = (): PlaybookSource['steps'] =>
  [
    { id: 'ask', kind: 'human', type: 'approve', prompt: 'Roll back checkout?', risk: 'high' },
    { id: 'after', kind: 'action', action: 'log', params: { message: 'rolled back' } },
  ] as PlaybookSource['steps'];

describe.each(databaseKinds)('one person across Slack and /v1 on %s', (kind) => {
  let h: SlackHarness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  const approvals = async (runId: string) => {
    const step = (await h!.ctx.ports.engine.getRun(runId))!.steps.find((s) => s.key === 'ask')!;
    return { status: step.status, by: ((step.decision as { approvals?: Array<{ by: string }> } | null)?.approvals ?? []).map((a) => a.by) };
  };
  const refusals = async (stepId: string) =>
    (await h!.ctx.audit.page({ limit: 1000 }))
      .filter((e) => e.subject.id === stepId && e.action === 'human_step.refused')
      .map((e) => (e.data as { code?: string }).code);

  it('a Slack approval and then a /v1 approval by the same person are one approver', async () => {
    h = await startSlackHarness(kind);
    const runId = await h.startRun(openFourEyes());
    const stepId = await h.waitingStep(runId, 'ask');

    await h.click('ada', ACTION.approve, stepId);
    await h.settle();
    expect(await approvals(runId)).toEqual({ status: 'waiting', by: ['U0ADA'] });

    const again = await h.v1Decide(stepId, TOKENS.ada, { decision: 'approve' });
    expect(again.status).toBeGreaterThanOrEqual(400);
    expect(again.status).toBeLessThan(500);
    expect(((await again.json()) as { message: string }).message).toMatch(/already approved|second, different approver/);
    expect(await approvals(runId)).toEqual({ status: 'waiting', by: ['U0ADA'] });
    expect(await refusals(stepId)).toContain('already_approved');

    // A different person completes it.
    expect((await h.v1Decide(stepId, TOKENS.bob, { decision: 'approve' })).status).toBe(200);
    await h.drain();
    expect((await h.ctx.ports.engine.getRun(runId))!.state).toBe('succeeded');
  });

  it('a /v1 approval and then a Slack click by the same person are one approver', async () => {
    h = await startSlackHarness(kind);
    const runId = await h.startRun(openFourEyes());
    const stepId = await h.waitingStep(runId, 'ask');

    expect((await h.v1Decide(stepId, TOKENS.ada, { decision: 'approve' })).status).toBe(200);
    await h.click('ada', ACTION.approve, stepId);
    await h.settle();
    expect(await approvals(runId)).toEqual({ status: 'waiting', by: ['ada@example.com'] });
    expect(h.slack.callsTo('chat.postEphemeral').map((c) => String(c.args.text))).toEqual([expect.stringMatching(/already approved/)]);
  });

  it('a click Slack cannot name (users.info failing) decides nothing, and is refused as the starter once it can', async () => {
    h = await startSlackHarness(kind);
    // Ada started the run through the API: she may not approve it on any path.
    const runId = await h.startRun(openFourEyes(), {}, { type: 'user', id: 'ada@example.com' });
    const stepId = await h.waitingStep(runId, 'ask');

    h.slack.failNext('users.info', 'internal_error');
    await h.click('ada', ACTION.approve, stepId);
    await h.settle();
    // Not recorded as an approval by a bare `U0ADA` (which the starter rule would not know).
    expect(await approvals(runId)).toEqual({ status: 'waiting', by: [] });

    // The inbox sweeper tries the click again; Slack answers now, and she is the starter.
    await h.chat.sweep();
    expect(await approvals(runId)).toEqual({ status: 'waiting', by: [] });
    expect(await refusals(stepId)).toContain('own_run');
  });

  it('a decision for a step that does not exist is 404 and audits nothing', async () => {
    h = await startSlackHarness(kind);
    const before = (await h.ctx.audit.page({ limit: 1000 })).length;
    for (const id of ['00000000-0000-0000-0000-000000000000', 'not-a-step']) {
      const res = await h.v1Decide(id, TOKENS.ada, { decision: 'approve' });
      expect(res.status).toBe(404);
      expect(((await res.json()) as { message: string }).message).toMatch(/No step/);
    }
    expect((await h.ctx.audit.page({ limit: 1000 })).length).toBe(before);
  });
});

describe.each(databaseKinds)('the engine compares approvers by every name (%s)', (kind) => {
  let t: TestDatabase | undefined;
  afterEach(async () => {
    await t?.dispose();
    t = undefined;
  });

  // The chat gate checks before the engine's transaction; two requests racing past it meet here,
  // under the run's row lock, so the engine itself must know the names are one person.
  it('refuses a second approval whose name is an alias of the first, and the run starter by alias', async () => {
    t = await freshDatabase(kind);
    const engine = testEngine(t.db, systemClock);
    const flow = playbook('aliases', openFourEyes());
    const worker = engine.createWorker('w');
    const waitingStep = async (runId: string) => {
      await worker.drain();
      return (await engine.getRun(runId))!.steps.find((s) => s.key === 'ask')!.id;
    };

    const run = await engine.startRun({ playbook: flow });
    const stepId = await waitingStep(run.runId);
    const slack = await engine.decide(stepId, { outcome: 'approve' }, { type: 'user', id: 'U0ADA' }, { via: 'slack', aliases: ['U0ADA', 'ada@example.com'] });
    expect(slack.status).toBe('approval_recorded');
    await expect(engine.decide(stepId, { outcome: 'approve' }, { type: 'user', id: 'ADA@example.com' }, { via: 'api' })).rejects.toMatchObject({ code: 'conflict' });
    expect((await engine.decide(stepId, { outcome: 'approve' }, { type: 'user', id: 'bob@example.com' }, { via: 'api' })).status).toBe('decided');

    // The starter is `user:ada@example.com`; her Slack id with that email as an alias is her.
    const own = await engine.startRun({ playbook: flow, actor: { type: 'user', id: 'ada@example.com' } });
    const ownStep = await waitingStep(own.runId);
    await expect(
      engine.decide(ownStep, { outcome: 'approve' }, { type: 'user', id: 'U0ADA' }, { via: 'slack', aliases: ['U0ADA', 'ada@example.com'] }),
    ).rejects.toMatchObject({ code: 'forbidden' });
    // A starter recorded with her other names (a Slack start): a token named by her Slack id is her too.
    const fromSlack = await engine.startRun({ playbook: flow, actor: { type: 'user', id: 'ada@example.com' }, starterAliases: ['U0ADA', 'ada@example.com'] });
    const slackStep = await waitingStep(fromSlack.runId);
    await expect(engine.decide(slackStep, { outcome: 'approve' }, { type: 'user', id: 'u0ada' }, { via: 'api' })).rejects.toMatchObject({ code: 'forbidden' });
    expect((await engine.getRun(fromSlack.runId))!.startedByAliases).toEqual(['U0ADA']);

    // Aliases name the person deciding, never a system actor.
    expect(
      (await engine.decide(ownStep, { outcome: 'approve' }, { type: 'system', id: 'policy' }, { aliases: ['ada@example.com'] })).status,
    ).toBe('approval_recorded');
  });
});
