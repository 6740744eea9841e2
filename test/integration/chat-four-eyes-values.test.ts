import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlaybookSource } from '../../src/playbooks/core/model.js';
import { type SlackHarness, startSlackHarness } from './slack-harness.js';

/**
 * Issue 9 §2: four-eyes on `choice` and `input` steps. Under `risk: high` both answers count
 * toward the two approvals, and the second approver must give the same value: a different one
 * is refused (409, audited), both answers are discarded and the step asks again.
 */
const TOKENS = {
  ada: 'tok-ada-0123456789abcdef0123456789ab',
  bob: 'tok-bob-0123456789abcdef0123456789ab',
};
const human = (type: 'choice' | 'input'): PlaybookSource['steps'] =>
  [
    {
      id: 'pick',
      kind: 'human',
      type,
      prompt: type === 'choice' ? 'Which region takes the traffic?' : 'Which revision do we roll back to?',
      ...(type === 'choice' ? { options: [{ value: 'eu-west' }, { value: 'us-east' }] } : { input: { pattern: '[0-9]+' } }),
      assign: { users: ['ada@example.com', 'bob@example.com'] },
      risk: 'high',
    },
    { id: 'act', kind: 'action', action: 'log', params: { message: 'answer ${{ steps.pick.output.value }}' } },
  ] as PlaybookSource['steps'];

describe('four-eyes on choice and input steps', () => {
  let h: SlackHarness;
  beforeAll(async () => {
    h = await startSlackHarness('pglite', { slack: false });
  });
  afterAll(async () => h?.close());

  const decide = async (stepId: string, who: keyof typeof TOKENS, body: Record<string, unknown>) => {
    const res = await h.v1Decide(stepId, TOKENS[who], body);
    return { status: res.status, body: (await res.json()) as { status?: string; message?: string; error?: string } };
  };
  const step = async (runId: string) => (await h.ctx.ports.engine.getRun(runId))!.steps.find((s) => s.key === 'pick')!;

  it.each([
    ['choice', 'choose', 'eu-west', 'us-east'],
    ['input', 'input', '41', '42'],
  ] as const)('a %s step needs two approvers who give the same value', async (type, decision, first, other) => {
    const runId = await h.startRun(human(type));
    const stepId = await h.waitingStep(runId, 'pick');

    // One person alone does not decide a risk: high step.
    const a = await decide(stepId, 'ada', { decision, value: first });
    expect(a.body.status).toBe('approval_recorded');
    expect((await step(runId)).status).toBe('waiting');

    // A second approver with a different value: refused, audited, both answers discarded.
    const b = await decide(stepId, 'bob', { decision, value: other });
    expect(b.status).toBe(409);
    expect(b.body.message).toContain('asks again');
    const s = await step(runId);
    expect(s.status).toBe('waiting');
    expect((s.decision as { approvals: unknown[] }).approvals).toEqual([]);
    const audit = (await h.ctx.audit.page({ limit: 1000 })).filter((e) => e.subject.id === stepId);
    expect(audit.find((e) => e.action === 'step.approvals_mismatch')?.data).toMatchObject({
      code: 'value_mismatch',
      answers: [
        { by: 'ada@example.com', value: first },
        { by: 'bob@example.com', value: other },
      ],
      via: 'api',
    });
    expect(audit.find((e) => e.action === 'human_step.refused')?.data).toMatchObject({ code: 'value_mismatch', via: 'api', value: other });

    // Asked again, they agree: the step completes with the agreed value and both names.
    expect((await decide(stepId, 'bob', { decision, value: other })).body.status).toBe('approval_recorded');
    expect((await decide(stepId, 'ada', { decision, value: other })).body.status).toBe('decided');
    await h.drain();
    const done = await step(runId);
    expect(done.status).toBe('succeeded');
    expect(done.output).toMatchObject({ value: other, by: ['bob@example.com', 'ada@example.com'] });
  });
});
