import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { ACTION } from '../../src/chat/core/blocks.js';
import { RUN_ACTION, RUN_VIEW } from '../../src/chat/core/run-blocks.js';
import { TEST_DATABASE_URL } from '../support/databases.js';
import { CHANNEL, type DrillHarness, people, startDrillHarness, type Who } from './drill-harness.js';

/**
 * Issue 13 acceptance: a run started by a person is cancelled mid-step through each path: the
 * incident thread's Cancel button (Block Kit confirm, then the reason modal), `POST
 * /v1/runs/:id/cancel`, `quench runs cancel`. The action in flight is fenced: its late answer is
 * discarded; nothing after it starts; the cancellation is audited with who and why. Cancelling
 * while the run compensates stops the undo (docs/drills.md, "Cancelling").
 */
const slow = (port: number) => `apiVersion: quench/v1
kind: Playbook
metadata: { name: slow, owner: team-shop }
inputs:
  replicas: { type: integer, required: true }
steps:
  - id: call
    kind: action
    action: http.request
    params: { url: "http://127.0.0.1:${port}/slow", body: { replicas: "\${{ inputs.replicas }}" } }
    timeout: 5m
  - id: ask
    kind: human
    type: approve
    prompt: Proceed?
`;

/** A change with an undo that hangs, then a step that fails: cancelled while compensating. */
const saga = (port: number) => `apiVersion: quench/v1
kind: Playbook
metadata: { name: saga, owner: team-shop }
steps:
  - id: change
    kind: action
    action: http.request
    params: { url: "http://127.0.0.1:${port}/change" }
    compensate:
      action: http.request
      params: { url: "http://127.0.0.1:${port}/slow", body: { undo: change } }
  - id: other
    kind: action
    action: http.request
    params: { url: "http://127.0.0.1:${port}/other" }
    compensate:
      action: http.request
      params: { url: "http://127.0.0.1:${port}/undo-other" }
  - id: verify
    kind: action
    action: http.request
    params: { url: "http://127.0.0.1:${port}/missing", expectStatus: [299] }
    retry: { maxAttempts: 1 }
`;

/** A step that fails (the drill injects it) and escalates to the playbook's owner, who started the run. */
const escalating = `apiVersion: quench/v1
kind: Playbook
metadata: { name: escalating, owner: ada@example.com }
steps:
  - id: act
    kind: action
    action: log
    params: { message: act }
    retry: { maxAttempts: 1 }
    onFailure: escalate
`;

const kinds = [{ kind: 'pglite' as const }, ...(TEST_DATABASE_URL ? [{ kind: 'postgres' as const }] : [])];

describe.each(kinds)('cancelling a run a person started ($kind)', ({ kind }) => {
  let h: DrillHarness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  async function boot(name: string) {
    h = await startDrillHarness(kind, { name: `${name}_${kind}`, playbooks: (port) => ({ 'slow.yaml': slow(port), 'saga.yaml': saga(port), 'escalating.yaml': escalating }) });
    return h;
  }

  const cli = (args: string[], who: Who) =>
    runCli(args, { stdout: () => {}, stderr: () => {}, env: { QUENCH_URL: h!.base, QUENCH_TOKEN: people[who].token } });

  for (const path of ['slack', 'api', 'cli'] as const) {
    it(`cancels mid-step via ${path}: the late result is discarded and the cancellation audited`, async () => {
      await boot(`cancel_${path}`);
      const h2 = h!;
      const answer = await h2.slash('ada', '/quench', 'run slow replicas=4');
      const runId = /`([^`]+)`/.exec(answer)?.[1];
      expect(answer, answer).toMatch(/^Run `/);
      await h2.until('the in-flight call', async () => (h2.target.held.length > 0 ? true : undefined));
      expect(h2.target.seen).toEqual(['POST /slow {"replicas":4}']);

      if (path === 'slack') {
        const header = await h2.until('the incident thread', async () => h2.slack.messages.find((m) => m.threadTs === undefined && JSON.stringify(m.blocks ?? []).includes(RUN_ACTION.cancel)));
        const button = JSON.stringify(header.blocks);
        expect(button).toContain('"confirm"');
        expect(button).toContain(`"value":"${runId}"`);
        expect((await h2.click('bob', RUN_ACTION.cancel, runId!, 'trig-cancel-1')).status).toBe(200);
        const opened = await h2.until('the reason modal', async () => h2.slack.callsTo('views.open').at(-1));
        const view = (typeof opened.args.view === 'string' ? JSON.parse(opened.args.view) : opened.args.view) as { callback_id: string; private_metadata: string };
        expect(view.callback_id).toBe(RUN_VIEW.cancel);
        // An empty reason is refused in the modal; nothing is cancelled.
        const empty = await h2.submit('bob', RUN_VIEW.cancel, view.private_metadata, { reason: { value: '  ' } });
        expect(await empty.json()).toMatchObject({ response_action: 'errors', errors: { reason: expect.stringMatching(/needs a reason/) } });
        expect((await h2.run(runId!)).state).toBe('running');
        const ok = await h2.submit('bob', RUN_VIEW.cancel, view.private_metadata, { reason: { value: 'wrong service' } }, 'VCANCEL1');
        expect(ok.status).toBe(200);
        // Slack retries the same submission: one cancellation, no error.
        expect((await h2.submit('bob', RUN_VIEW.cancel, view.private_metadata, { reason: { value: 'wrong service' } }, 'VCANCEL1')).status).toBe(200);
        await h2.until('the note in the thread', async () => (h2.slack.messages.some((m) => m.threadTs === header.ts && m.text.includes('Run cancelled by <@U0BOB>: wrong service')) ? true : undefined));
        // The header lost its button.
        await h2.until('the header refreshed', async () => (!JSON.stringify(h2.slack.message(header.channel, header.ts)?.blocks ?? []).includes(RUN_ACTION.cancel) ? true : undefined));
        // A click on a stale button says the run ended.
        await h2.click('eve', RUN_ACTION.cancel, runId!);
        await h2.until('the refusal', async () => (h2.slack.callsTo('chat.postEphemeral').some((c) => String(c.args.text).includes('has already ended (cancelled)')) ? true : undefined));
      } else if (path === 'api') {
        const res = await h2.api('POST', `/v1/runs/${runId}/cancel`, 'bob', { reason: 'wrong service' });
        expect(res.status).toBe(200);
      } else {
        expect(await cli(['runs', 'cancel', runId!, '--reason', 'wrong service'], 'bob')).toBe(0);
      }
      expect((await h2.api('POST', `/v1/runs/${runId}/cancel`, 'bob', { reason: 'again' })).status).toBe(409);

      h2.target.release(); // the late answer
      const attempt = await h2.until('the in-flight attempt to close', async () => {
        const a = (await h2.run(runId!)).steps.find((s) => s.key === 'call')!.attempts[0];
        return a && a.status !== 'running' ? a : undefined;
      });
      await new Promise((r) => setTimeout(r, 300));
      const run = await h2.run(runId!);
      expect(run.state).toBe('cancelled');
      expect(attempt.status).toBe('cancelled');
      expect(run.steps.find((s) => s.key === 'call')).toMatchObject({ status: 'cancelled', output: null });
      expect(run.steps.map((s) => s.key)).toEqual(['call']);
      expect(run.error).toMatchObject({ code: 'cancelled', message: 'wrong service', by: 'bob@example.com' });
      const audit = (await h2.service.ctx.audit.page({ limit: 2000 })).filter((e) => e.subject.id === runId);
      const cancelled = audit.filter((e) => e.action === 'run.cancelled');
      expect(cancelled).toHaveLength(1);
      expect(cancelled[0]!.actor).toMatchObject({ type: 'user', id: 'bob@example.com' });
      expect(JSON.stringify(cancelled[0]!.data)).toContain('wrong service');
      expect(audit.find((e) => e.action === 'run.started')?.actor).toMatchObject({ type: 'user', id: 'ada@example.com' });
      expect(CHANNEL).toBe('C0DRILLS');
    }, 120_000);
  }

  it('the Slack starter may approve nothing of the run, in Slack or over /v1 (one identity: the profile email)', async () => {
    await boot('cancel_starter');
    const h2 = h!;
    const answer = await h2.slash('ada', '/quench', 'run slow replicas=1');
    const runId = /`([^`]+)`/.exec(answer)![1]!;
    await h2.until('the in-flight call', async () => (h2.target.held.length > 0 ? true : undefined));
    h2.target.release();
    const stepId = await h2.until('the human step', async () => (await h2.run(runId)).steps.find((s) => s.key === 'ask' && s.status === 'waiting')?.id);
    const viaApi = await h2.api('POST', `/v1/steps/${stepId}/decision`, 'ada', { decision: 'approve' });
    expect(viaApi.status).toBe(403);
    expect(viaApi.body.message).toMatch(/started this run/);
    expect((await h2.api('POST', `/v1/steps/${stepId}/decision`, 'bob', { decision: 'approve' })).status).toBe(200);
  }, 120_000);

  it('the starter may not approve the escalation raised when a step of their run failed for good (Slack and /v1)', async () => {
    await boot('cancel_escalation');
    const h2 = h!;
    const runId = /`([^`]+)`/.exec(await h2.slash('ada', '/drill', 'escalating fail=act'))![1]!;
    const escalation = await h2.until('the escalation offered', async () => {
      const s = (await h2.run(runId)).steps.find((x) => x.key === 'act/escalate' && x.status === 'waiting');
      return s && h2.slack.messages.some((m) => JSON.stringify(m.blocks ?? []).includes(s.id)) ? s.id : undefined;
    });
    await h2.click('ada', ACTION.approve, escalation);
    await h2.until('the refusal in Slack', async () =>
      h2.slack.callsTo('chat.postEphemeral').some((c) => String(c.args.text).includes('You started this run')) ? true : undefined,
    );
    const viaApi = await h2.api('POST', `/v1/steps/${escalation}/decision`, 'ada', { decision: 'approve' });
    expect(viaApi.status).toBe(403);
    expect((await h2.run(runId)).steps.find((s) => s.id === escalation)?.status).toBe('waiting');
    const refusals = (await h2.service.ctx.audit.page({ limit: 2000 })).filter((e) => e.action === 'human_step.refused' && e.subject.id === escalation);
    expect(refusals.length).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('cancelling while the run compensates stops the undo: the compensation in flight is fenced, the rest never starts', async () => {
    await boot('cancel_compensating');
    const h2 = h!;
    const runId = (await h2.api('POST', '/v1/runs', 'ada', { playbook: 'saga' })).body.runId as string;
    // verify fails → compensation in reverse order: other's undo, then change's (which hangs).
    await h2.until('the hanging undo', async () => (h2.target.held.length > 0 ? true : undefined));
    expect((await h2.run(runId)).state).toBe('compensating');
    expect((await h2.api('POST', `/v1/runs/${runId}/cancel`, 'bob', { reason: 'leave it as it is' })).status).toBe(200);
    h2.target.release();
    await new Promise((r) => setTimeout(r, 500));
    const run = await h2.run(runId);
    expect(run.state).toBe('cancelled');
    expect(run.steps.find((s) => s.key === 'other/compensate')?.status).toBe('succeeded');
    expect(run.steps.find((s) => s.key === 'change/compensate')).toMatchObject({ status: 'cancelled', output: null });
    expect(h2.target.seen.map((s) => s.split(' ')[1])).toEqual(['/change', '/other', '/missing', '/undo-other', '/slow']);
  }, 120_000);
});
