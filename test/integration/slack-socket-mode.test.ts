import { afterEach, describe, expect, it } from 'vitest';
import { ACTION } from '../../src/chat/core/blocks.js';
import { buttonClick } from '../support/slack-signer.js';
import { APP_TOKEN, approvalSteps, people, type SlackHarness, startSlackHarness } from './slack-harness.js';

/**
 * Socket Mode (SLACK_APP_TOKEN set): Quench opens the connection through SLACK_API_URL's
 * `apps.connections.open`, and interactions arrive as acknowledged envelopes over the
 * WebSocket instead of signed HTTP requests; the same listeners and rules decide the step.
 */

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('Slack in Socket Mode', () => {
  let h: SlackHarness;
  afterEach(async () => h?.close());

  it('connects with the app token and decides a step from an acknowledged envelope', async () => {
    h = await startSlackHarness('pglite', { socketMode: true });
    await h.slack.socketConnected();
    expect(h.slack.callsTo('apps.connections.open').map((c) => c.token)).toContain(APP_TOKEN);

    const runId = await h.startRun(approvalSteps());
    const stepId = await h.waitingStep(runId, 'approveRollback');
    const message = await until('the step message', async () => h.slack.messages.find((m) => JSON.stringify(m.blocks ?? []).includes(stepId)));

    const click = (who: keyof typeof people) =>
      h.slack.sendEnvelope(
        'interactive',
        buttonClick({ user: { id: people[who].id, name: people[who].name }, actionId: ACTION.approve, value: stepId, channel: message.channel, messageTs: message.ts, actionTs: `${Date.now()}.0001${who.length}` }),
      );

    // A bystander's click is acknowledged but refused, and changes nothing.
    expect((await click('eve')).envelope_id).toBeTypeOf('string');
    await until('the refusal', async () => (h.slack.callsTo('chat.postEphemeral').some((c) => c.args.user === people.eve.id) ? true : undefined));
    expect((await h.ctx.ports.engine.getRun(runId))?.state).toBe('waiting');

    // The on-call's click decides it.
    expect((await click('ada')).envelope_id).toBeTypeOf('string');
    const state = await until('the run to finish', async () => {
      await h.drain();
      const run = await h.ctx.ports.engine.getRun(runId);
      return run?.state === 'succeeded' ? run.state : undefined;
    });
    expect(state).toBe('succeeded');
    const entry = (action: string) => async () => (await h.ctx.audit.page({ limit: 1000 })).find((e) => e.action === action);
    const decided = await until('the decision in the audit trail', entry('human_step.decided'));
    expect(JSON.stringify(decided)).toContain(people.ada.id);
    const refused = await until('the refusal in the audit trail', entry('human_step.refused'));
    expect(JSON.stringify(refused)).toContain(people.eve.id);
  });
});
