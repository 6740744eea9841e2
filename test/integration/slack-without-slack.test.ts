import { afterEach, describe, expect, it } from 'vitest';
import { ACTION } from '../../src/chat/core/blocks.js';
import { runCli } from '../../src/cli/main.js';
import { noNotifier } from '../../src/engine/notifier.js';
import { TEST_DATABASE_URL } from '../support/databases.js';
import { approvalSteps, type SlackHarness, startSlackHarness } from './slack-harness.js';

/**
 * The same authorisation for /v1 decisions as for Slack clicks: identities from QUENCH_API_TOKENS
 * are matched to the step's assignees by alias (here the on-call's email), with or without Slack.
 */
const steps = approvalSteps;

describe.each([true, false])('decisions through /v1 (Slack on: %s)', (slackOn) => {
  let h: SlackHarness;
  afterEach(async () => h?.close());

  it('only the on-call decides; four-eyes and refusals hold as in Slack', async () => {
    h = await startSlackHarness('pglite', { slack: slackOn });
    const runId = await h.startRun(steps({ risk: 'high', assign: { users: ['ada@example.com', 'bob@example.com'] } }));
    const stepId = await h.waitingStep(runId, 'approveRollback');
    expect(h.slack.calls.length > 0).toBe(slackOn);

    const eve = await h.v1Decide(stepId, 'tok-eve-0123456789abcdef0123456789ab', { decision: 'approve' });
    expect(eve.status).toBe(403);
    expect(((await eve.json()) as { message: string }).message).toContain("Only the step's assignees");
    const first = await h.v1Decide(stepId, 'tok-ada-0123456789abcdef0123456789ab', { decision: 'approve' });
    expect(first.status).toBe(200);
    expect(((await first.json()) as { status: string }).status).toBe('approval_recorded');
    expect((await h.v1Decide(stepId, 'tok-ada-0123456789abcdef0123456789ab', { decision: 'approve' })).status).toBe(403);
    const second = await h.v1Decide(stepId, 'tok-bob-0123456789abcdef0123456789ab', { decision: 'approve' });
    expect(((await second.json()) as { status: string }).status).toBe('decided');
    await h.drain();
    expect((await h.ctx.ports.engine.getRun(runId))?.state).toBe('succeeded');
    const refused = (await h.ctx.audit.page({ limit: 1000 })).filter((e) => e.action === 'human_step.refused');
    expect(refused.map((e) => e.data.user)).toEqual(['eve@example.com', 'ada@example.com']);
    if (slackOn) {
      // A decision made outside Slack still updates the Slack message in place.
      const message = h.slack.messages.find((m) => m.threadTs && JSON.stringify(m.blocks).includes(stepId))!;
      const blocks = h.slack.message(message.channel, message.ts)!.blocks;
      expect(JSON.stringify(blocks)).not.toContain(ACTION.approve);
      expect(JSON.stringify(blocks)).toContain('Approved by');
    }
  });
});

describe('before the step is offered', () => {
  let h: SlackHarness;
  afterEach(async () => h?.close());

  it('refuses everyone while an on-call assignment is unresolved, then only the on-call', async () => {
    h = await startSlackHarness('pglite', { slack: false });
    h.ctx.ports.engine.setNotifier(noNotifier);
    const stepId = await h.waitingStep(await h.startRun(steps()), 'approveRollback');
    const early = await h.v1Decide(stepId, 'tok-ada-0123456789abcdef0123456789ab', { decision: 'approve' });
    expect(early.status).toBe(403);
    expect(((await early.json()) as { message: string }).message).toContain('not yet resolved');
    await h.restartChat();
    expect((await h.v1Decide(stepId, 'tok-eve-0123456789abcdef0123456789ab', { decision: 'approve' })).status).toBe(403);
    expect((await h.v1Decide(stepId, 'tok-ada-0123456789abcdef0123456789ab', { decision: 'approve' })).status).toBe(200);
  });
});

describe.skipIf(!TEST_DATABASE_URL)('quench approve (PostgreSQL, shared with the CLI)', () => {
  let h: SlackHarness;
  afterEach(async () => h?.close());

  it('applies the assignee rule to CLI decisions too', async () => {
    h = await startSlackHarness('postgres', { slack: false });
    const runId = await h.startRun(steps());
    const stepId = await h.waitingStep(runId, 'approveRollback');
    const cli = async (...argv: string[]) => {
      let out = '';
      let err = '';
      const env = {
        DATABASE_URL: h.databaseUrl!,
        QUENCH_API_TOKENS: 'ada@example.com=tok-ada-0123456789abcdef0123456789ab,eve@example.com=tok-eve-0123456789abcdef0123456789ab',
        LOG_LEVEL: 'silent',
      };
      const code = await runCli(argv.slice(1), { stdout: (t) => (out += t), stderr: (t) => (err += t), env: { ...env, QUENCH_TOKEN: argv[0]! } });
      return { code, out, err };
    };
    const eve = await cli('tok-eve-0123456789abcdef0123456789ab', 'approve', stepId);
    expect(eve.code).not.toBe(0);
    expect(eve.err).toContain("Only the step's assignees");
    const ada = await cli('tok-ada-0123456789abcdef0123456789ab', 'approve', stepId);
    expect(ada).toMatchObject({ code: 0 });
    expect(ada.out).toContain('approved by ada@example.com');
  });
});
