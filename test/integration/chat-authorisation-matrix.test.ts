import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { ACTION, choiceValue } from '../../src/chat/core/blocks.js';
import type { PlaybookSource } from '../../src/playbooks/core/model.js';
import { TEST_DATABASE_URL } from '../support/databases.js';
import { buttonClick, interactionBody, viewSubmission } from '../support/slack-signer.js';
import { CHANNEL, people, type SlackHarness, startSlackHarness } from './slack-harness.js';

/**
 * Issue 9 acceptance: every decision path (a Slack click signed with v0 signatures through the
 * fake Slack, `POST /v1/steps/:id/decision`, the `quench approve|reject` CLI) × step type
 * (approve, choice, input) × risk (low, high) × the ways around the rules: a stranger, the same
 * person twice, two people disagreeing, the run's starter. Each is refused as documented
 * (docs/slack.md, "Who may decide") and the refusal is in the audit trail with its path.
 */
type Path = 'slack' | 'api' | 'cli';
type Type = 'approve' | 'choice' | 'input';
type Risk = 'low' | 'high';
type Scenario = 'stranger' | 'same person twice' | 'two people disagreeing' | "the run's starter";
type Who = 'ada' | 'bob' | 'eve';
type Answer = { kind: 'approve' } | { kind: 'reject'; reason: string } | { kind: 'choose' | 'input'; value: string };

const TOKENS: Record<Who, string> = {
  ada: 'tok-ada-0123456789abcdef0123456789ab',
  bob: 'tok-bob-0123456789abcdef0123456789ab',
  eve: 'tok-eve-0123456789abcdef0123456789ab',
};
const API_TOKENS = (Object.keys(TOKENS) as Who[]).map((w) => `${people[w].email}=${TOKENS[w]}`).join(',');
const OPTIONS = ['eu-west', 'us-east'];

const steps = (type: Type, risk: Risk): PlaybookSource['steps'] =>
  [
    {
      id: 'ask',
      kind: 'human',
      type,
      prompt: 'Fail over checkout?',
      ...(type === 'choice' ? { options: OPTIONS.map((value) => ({ value })) } : {}),
      assign: { users: [people.ada.email, people.bob.email] },
      risk,
    },
    { id: 'after', kind: 'action', action: 'log', params: { message: 'done' } },
  ] as PlaybookSource['steps'];

/** The answer a person gives on this step type; `other` is the disagreeing one. */
const answer = (type: Type, other = false): Answer =>
  type === 'approve'
    ? other
      ? { kind: 'reject', reason: 'the graphs say it is a dependency' }
      : { kind: 'approve' }
    : type === 'choice'
      ? { kind: 'choose', value: OPTIONS[other ? 1 : 0]! }
      : { kind: 'input', value: other ? 'revision 41' : 'revision 42' };

interface Expected {
  refusals: Array<{ who: Who; code: string }>;
  status: 'waiting' | 'succeeded' | 'failed';
}

/** The documented outcome of each scenario. */
function expected(scenario: Scenario, type: Type, risk: Risk): Expected {
  switch (scenario) {
    case 'stranger':
      return { refusals: [{ who: 'eve', code: 'not_assignee' }], status: 'waiting' };
    case 'same person twice':
      return risk === 'high'
        ? { refusals: [{ who: 'ada', code: 'already_approved' }], status: 'waiting' }
        : { refusals: [{ who: 'ada', code: 'already_decided' }], status: 'succeeded' };
    case 'two people disagreeing':
      if (risk === 'low') return { refusals: [{ who: 'bob', code: 'already_decided' }], status: 'succeeded' };
      // Four-eyes approve: a rejection by either assignee decides (a veto), nothing to refuse.
      if (type === 'approve') return { refusals: [], status: 'failed' };
      return { refusals: [{ who: 'bob', code: 'value_mismatch' }], status: 'waiting' };
    case "the run's starter":
      return { refusals: [{ who: 'ada', code: 'own_run' }], status: 'waiting' };
  }
}

const cases: Array<[Type, Risk, Scenario]> = [];
for (const type of ['approve', 'choice', 'input'] as const)
  for (const risk of ['low', 'high'] as const)
    for (const scenario of ['stranger', 'same person twice', 'two people disagreeing', "the run's starter"] as const)
      cases.push([type, risk, scenario]);

const paths: Array<{ path: Path; skip: boolean }> = [
  { path: 'slack', skip: false },
  { path: 'api', skip: false },
  // The CLI opens the database itself: it shares the harness's PostgreSQL database.
  { path: 'cli', skip: !TEST_DATABASE_URL },
];

describe.each(paths)('authorisation matrix through $path', ({ path, skip }) => {
  let h: SlackHarness;
  let n = 0;
  beforeAll(async () => {
    if (!skip) h = await startSlackHarness(path === 'cli' ? 'postgres' : 'pglite', { slack: path === 'slack' });
  });
  afterAll(async () => h?.close());

  /** One decision by `who` through this path. */
  async function decide(who: Who, stepId: string, a: Answer): Promise<void> {
    if (path === 'api') {
      const body =
        a.kind === 'approve'
          ? { decision: 'approve' }
          : a.kind === 'reject'
            ? { decision: 'reject', reason: a.reason }
            : { decision: a.kind, value: a.value };
      await h.v1Decide(stepId, TOKENS[who], body);
      return;
    }
    if (path === 'cli') {
      const args =
        a.kind === 'approve'
          ? ['approve', stepId]
          : a.kind === 'reject'
            ? ['reject', stepId, '--reason', a.reason]
            : ['approve', stepId, a.kind === 'choose' ? '--choice' : '--input', a.value];
      await runCli(args, {
        stdout: () => {},
        stderr: () => {},
        env: { DATABASE_URL: h.databaseUrl!, QUENCH_API_TOKENS: API_TOKENS, QUENCH_TOKEN: TOKENS[who], LOG_LEVEL: 'silent' },
      });
      return;
    }
    const user = { id: people[who].id, name: people[who].name };
    const message = h.slack.messages.find((m) => JSON.stringify(m.blocks ?? []).includes(stepId));
    const actionTs = `1767571300.${String(++n).padStart(6, '0')}`;
    if (a.kind === 'approve') await h.click(who, ACTION.approve, stepId);
    else if (a.kind === 'reject') await h.submitReject(who, stepId, a.reason);
    else if (a.kind === 'choose') {
      const index = OPTIONS.indexOf(a.value);
      const click = buttonClick({
        user,
        actionId: `${ACTION.choose}_${index}`,
        value: choiceValue(stepId, a.value),
        channel: message?.channel ?? CHANNEL,
        messageTs: message?.ts ?? '0',
        actionTs,
      });
      expect((await h.slackPost(interactionBody(click))).status).toBe(200);
    } else {
      const submission = viewSubmission({
        user,
        callbackId: 'quench_answer_text',
        privateMetadata: `${stepId}|${CHANNEL}`,
        values: { answer: { value: a.value } },
        viewId: `VANSWER${++n}`,
      });
      expect((await h.slackPost(interactionBody(submission))).status).toBe(200);
    }
    await h.settle();
  }

  it.skipIf(skip).each(cases)('%s step, risk %s: %s', async (type, risk, scenario) => {
    const starter = scenario === "the run's starter" ? { type: 'user' as const, id: people.ada.email } : undefined;
    const runId = await h.startRun(steps(type, risk), {}, starter);
    const stepId = await h.waitingStep(runId, 'ask');
    if (path === 'slack') {
      // The message offers the right controls for the step type.
      const blocks = JSON.stringify(h.slack.messages.find((m) => JSON.stringify(m.blocks ?? []).includes(stepId))?.blocks);
      expect(blocks).toContain(type === 'approve' ? ACTION.approve : type === 'choice' ? `${ACTION.choose}_1` : ACTION.answer);
    }

    if (scenario === 'stranger') await decide('eve', stepId, answer(type));
    else if (scenario === 'same person twice') {
      await decide('ada', stepId, answer(type));
      await decide('ada', stepId, answer(type));
    } else if (scenario === 'two people disagreeing') {
      await decide('ada', stepId, answer(type));
      await decide('bob', stepId, answer(type, true));
    } else await decide('ada', stepId, answer(type));
    await h.drain();

    const want = expected(scenario, type, risk);
    const step = (await h.ctx.ports.engine.getRun(runId))!.steps.find((s) => s.id === stepId)!;
    expect(step.status).toBe(want.status);
    const trail = (await h.ctx.audit.page({ limit: 5000 })).filter((e) => e.subject.id === stepId);
    const refused = trail.filter((e) => e.action === 'human_step.refused');
    expect(refused.map((e) => ({ code: (e.data as { code: string }).code, via: (e.data as { via?: string }).via }))).toEqual(
      want.refusals.map((r) => ({ code: r.code, via: path })),
    );
    for (const [i, r] of want.refusals.entries()) {
      const actor = refused[i]!.actor.id;
      expect([people[r.who].id, people[r.who].email]).toContain(actor);
    }
    // Decisions that did count carry their path too.
    for (const e of trail.filter((x) => x.action === 'step.decided' || x.action === 'step.approval_recorded'))
      expect((e.data as { via?: string }).via).toBe(path);
    if (want.refusals.some((r) => r.code === 'value_mismatch')) expect((step.decision as { approvals: unknown[] }).approvals).toEqual([]);
    if (path === 'slack') {
      // Every refusal was told to the person who tried, privately.
      const told = h.slack.callsTo('chat.postEphemeral').filter((c) => want.refusals.some((r) => c.args.user === people[r.who].id));
      expect(told.length).toBeGreaterThanOrEqual(want.refusals.length);
    }
  });
});
