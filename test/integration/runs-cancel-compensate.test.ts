import { afterEach, describe, expect, it } from 'vitest';
import { RUN_ACTION, RUN_VIEW } from '../../src/chat/core/run-blocks.js';
import { runCli } from '../../src/cli/main.js';
import { databaseKinds } from '../support/databases.js';
import { type DrillHarness, people, startDrillHarness, type Who } from './drill-harness.js';
import { startTarget, type Target } from './engine-target.js';

/**
 * Issue 13: "cancel one (in-flight steps fenced, compensation per the playbook)". A playbook's
 * `onCancel: compensate` makes a person's cancel undo the completed state-changing steps as a
 * failure would; `stop` (or nothing) keeps "stop now" (slack-cancel.test.ts covers that too).
 * A real engine in a real service, on PGlite and PostgreSQL; the target deduplicates by
 * Idempotency-Key and records each request's key, so "undone once, under the undo's key" is seen.
 */
const undoing = (url: string, onCancel: 'compensate' | 'stop') => `apiVersion: quench/v1
kind: Playbook
metadata: { name: undo-${onCancel}, owner: team-shop }
onCancel: ${onCancel}
steps:
  - id: change
    kind: action
    action: http.request
    params: { url: "${url}/change" }
    compensate:
      action: http.request
      params: { url: "${url}/undo-change" }
  - id: read
    kind: action
    action: log
    params: { message: nothing to undo }
  - id: call
    kind: action
    action: http.request
    params: { url: "${url}/slow" }
    timeout: 5m
    compensate:
      action: http.request
      params: { url: "${url}/undo-slow" }
  - id: ask
    kind: human
    type: approve
    prompt: Proceed?
`;

/** Fails at `verify`; `change`'s undo hangs, so the run is caught compensating. */
const failing = (url: string) => `apiVersion: quench/v1
kind: Playbook
metadata: { name: failing, owner: team-shop }
onCancel: compensate
steps:
  - id: change
    kind: action
    action: http.request
    params: { url: "${url}/change" }
    compensate:
      action: http.request
      params: { url: "${url}/undo-slow" }
  - id: other
    kind: action
    action: http.request
    params: { url: "${url}/other" }
    compensate:
      action: http.request
      params: { url: "${url}/undo-other" }
  - id: verify
    kind: action
    action: http.request
    params: { url: "${url}/missing", expectStatus: [299] }
    retry: { maxAttempts: 1 }
`;

/** Nothing completed yet when cancelled: nothing to undo. */
const firstSlow = (url: string) => `apiVersion: quench/v1
kind: Playbook
metadata: { name: first-slow, owner: team-shop }
onCancel: compensate
steps:
  - id: call
    kind: action
    action: http.request
    params: { url: "${url}/slow" }
    timeout: 5m
`;

describe.each(databaseKinds)('onCancel: compensate (%s)', (kind) => {
  let h: DrillHarness | undefined;
  let target: Target | undefined;
  afterEach(async () => {
    await h?.stop();
    await target?.close();
    h = undefined;
    target = undefined;
  });

  async function boot(name: string) {
    target = await startTarget();
    const url = target.url;
    h = await startDrillHarness(kind, {
      name: `${name}_${kind}`,
      playbooks: {
        'undo-compensate.yaml': undoing(url, 'compensate'),
        'undo-stop.yaml': undoing(url, 'stop'),
        'failing.yaml': failing(url),
        'first-slow.yaml': firstSlow(url),
      },
    });
    return { h, target };
  }

  const cli = async (args: string[], who: Who) => {
    let stdout = '';
    let stderr = '';
    const code = await runCli(args, {
      stdout: (s) => void (stdout += s),
      stderr: (s) => void (stderr += s),
      env: { QUENCH_URL: h!.base, QUENCH_TOKEN: people[who].token },
    });
    return { code, stdout, stderr };
  };
  const paths = (t: Target) => t.requests.map((r) => r.path);

  for (const path of ['api', 'cli'] as const) {
    it(`a cancel via ${path} fences the step in flight, undoes the completed change once under its key, and ends compensated`, async () => {
      const { h, target } = await boot(`undo_${path}`);
      const slow = target.hold('/slow');
      const runId = (await h.api('POST', '/v1/runs', 'ada', { playbook: 'undo-compensate' })).body.runId as string;
      await slow.received;

      if (path === 'api') {
        const res = await h.api('POST', `/v1/runs/${runId}/cancel`, 'bob', { reason: 'wrong service' });
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ runId, state: 'compensating', by: 'bob@example.com', reason: 'wrong service' });
      } else {
        const res = await cli(['runs', 'cancel', runId, '--reason', 'wrong service'], 'bob');
        expect(res.stderr).toBe('');
        expect(res.code).toBe(0);
        expect(res.stdout).toBe(`run ${runId} cancelled by bob@example.com: wrong service (compensating: its completed steps are being undone)\n`);
      }
      const run = await h.until('the run compensated', async () => {
        const r = await h.run(runId);
        return r.state === 'compensated' ? r : undefined;
      });
      // Ended: a second cancel is refused as for any ended run.
      expect((await h.api('POST', `/v1/runs/${runId}/cancel`, 'eve', { reason: 'again' })).status).toBe(409);

      // The late answer of the fenced step arrives after the undo: discarded, never undone.
      slow.release();
      const attempt = await h.until('the in-flight attempt to close', async () => {
        const a = (await h.run(runId)).steps.find((s) => s.key === 'call')!.attempts[0];
        return a && a.status !== 'running' ? a : undefined;
      });
      await new Promise((r) => setTimeout(r, 300));
      const after = await h.run(runId);
      expect(after.state).toBe('compensated');
      expect(attempt.status).toBe('cancelled');
      expect(after.steps.find((s) => s.key === 'call')).toMatchObject({ status: 'cancelled', output: null });
      // (Rows created in the same instant of the test's clock list in no set order.)
      expect(after.steps.map((s) => [s.key, s.status]).sort()).toEqual([
        ['call', 'cancelled'],
        ['change', 'succeeded'],
        ['change/compensate', 'succeeded'],
        ['read', 'succeeded'],
      ]);
      // Undone exactly once, under the undo step's idempotency key; nothing after `call` started.
      const undo = target.requests.filter((r) => r.path === '/undo-change');
      expect(undo.map((r) => r.key)).toEqual([`${runId}:change/compensate`]);
      expect(after.steps.find((s) => s.key === 'change/compensate')!.attempts.map((a) => a.idempotencyKey)).toEqual([`${runId}:change/compensate`]);
      expect(paths(target)).toEqual(['/change', '/slow', '/undo-change']);
      expect(run.error).toMatchObject({ code: 'cancelled', message: 'wrong service', by: 'bob@example.com' });
      expect(after.error).toMatchObject({ code: 'cancelled', message: 'wrong service', by: 'bob@example.com' });

      await h.service.ctx.audit.flush();
      const audit = (await h.service.ctx.audit.page({ limit: 2000 })).filter((e) => e.subject.id === runId);
      const requested = audit.filter((e) => e.action === 'run.cancel_requested');
      expect(requested).toHaveLength(1);
      expect(requested[0]!.actor).toMatchObject({ type: 'user', id: 'bob@example.com' });
      expect(requested[0]!.data).toMatchObject({ reason: 'wrong service', onCancel: 'compensate' });
      const compensating = audit.find((e) => e.action === 'run.compensating');
      expect(compensating?.actor).toMatchObject({ type: 'user', id: 'bob@example.com' });
      expect(JSON.stringify(compensating?.data)).toContain('wrong service');
      expect(audit.some((e) => e.action === 'run.compensated')).toBe(true);
      expect(audit.some((e) => e.action === 'run.cancelled')).toBe(false);
    }, 120_000);
  }

  it('the Cancel button in Slack undoes the completed change too, says so in the thread, and the modal shows the refusal while compensating', async () => {
    const { h, target } = await boot('undo_slack');
    const slow = target.hold('/slow');
    const answer = await h.slash('ada', '/quench', 'run undo-compensate');
    const runId = /`([^`]+)`/.exec(answer)?.[1];
    expect(answer, answer).toMatch(/^Run `/);
    await slow.received;
    const header = await h.until('the incident thread', async () =>
      h.slack.messages.find((m) => m.threadTs === undefined && JSON.stringify(m.blocks ?? []).includes(RUN_ACTION.cancel)),
    );
    // The undo of `change` hangs, so the second cancel finds the run compensating.
    const undo = target.hold('/undo-change');
    expect((await h.click('bob', RUN_ACTION.cancel, runId!, 'trig-undo-1')).status).toBe(200);
    const opened = await h.until('the reason modal', async () => h.slack.callsTo('views.open').at(-1));
    const view = (typeof opened.args.view === 'string' ? JSON.parse(opened.args.view) : opened.args.view) as { private_metadata: string };
    expect((await h.submit('bob', RUN_VIEW.cancel, view.private_metadata, { reason: { value: 'wrong service' } }, 'VUNDO1')).status).toBe(200);
    await h.until('the note in the thread', async () =>
      h.slack.messages.some((m) => m.threadTs === header.ts && m.text.includes('Run cancelled by <@U0BOB>: wrong service (undoing its completed steps')) ? true : undefined,
    );
    await undo.received;
    expect((await h.run(runId!)).state).toBe('compensating');
    const again = await h.submit('eve', RUN_VIEW.cancel, view.private_metadata, { reason: { value: 'stop the undo' } }, 'VUNDO2');
    expect(await again.json()).toMatchObject({ response_action: 'errors', errors: { reason: expect.stringMatching(/undo in progress continues/) } });
    undo.release();
    slow.release();
    const run = await h.until('the run compensated', async () => {
      const r = await h.run(runId!);
      return r.state === 'compensated' ? r : undefined;
    });
    expect(run.error).toMatchObject({ code: 'cancelled', message: 'wrong service', by: 'bob@example.com' });
    expect(target.applied.filter((r) => r.path === '/undo-change').map((r) => r.key)).toEqual([`${runId}:change/compensate`]);
  }, 120_000);

  it('onCancel: stop keeps "stop now": cancelled, nothing undone', async () => {
    const { h, target } = await boot('undo_stop');
    const slow = target.hold('/slow');
    const runId = (await h.api('POST', '/v1/runs', 'ada', { playbook: 'undo-stop' })).body.runId as string;
    await slow.received;
    const res = await cli(['runs', 'cancel', runId, '--reason', 'leave it', '--json'], 'bob');
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ runId, state: 'cancelled' });
    slow.release();
    await new Promise((r) => setTimeout(r, 500));
    const run = await h.run(runId);
    expect(run.state).toBe('cancelled');
    expect(run.steps.map((s) => s.key)).toEqual(['change', 'read', 'call']);
    expect(paths(target)).toEqual(['/change', '/slow']);
  }, 120_000);

  it('with nothing completed to undo, the run ends cancelled', async () => {
    const { h, target } = await boot('undo_nothing');
    const slow = target.hold('/slow');
    const runId = (await h.api('POST', '/v1/runs', 'ada', { playbook: 'first-slow' })).body.runId as string;
    await slow.received;
    const res = await h.api('POST', `/v1/runs/${runId}/cancel`, 'bob', { reason: 'not needed' });
    expect(res.body).toMatchObject({ state: 'cancelled' });
    slow.release();
    await new Promise((r) => setTimeout(r, 300));
    expect((await h.run(runId)).state).toBe('cancelled');
    expect(paths(target)).toEqual(['/slow']);
  }, 120_000);

  it('a cancel while the run compensates is refused (409, CLI non-zero) and the undo continues to compensated', async () => {
    const { h, target } = await boot('undo_during');
    const hang = target.hold('/undo-slow');
    const runId = (await h.api('POST', '/v1/runs', 'ada', { playbook: 'failing' })).body.runId as string;
    await hang.received;
    expect((await h.run(runId)).state).toBe('compensating');
    const viaApi = await h.api('POST', `/v1/runs/${runId}/cancel`, 'bob', { reason: 'leave it as it is' });
    expect(viaApi.status).toBe(409);
    expect(viaApi.body.message).toMatch(/compensating .*onCancel: compensate.*undo in progress continues/);
    const viaCli = await cli(['runs', 'cancel', runId, '--reason', 'leave it as it is'], 'bob');
    expect(viaCli.code).not.toBe(0);
    expect(viaCli.stderr).toMatch(/undo in progress continues/);
    hang.release();
    const run = await h.until('the run compensated', async () => {
      const r = await h.run(runId);
      return r.state === 'compensated' ? r : undefined;
    });
    expect(run.steps.filter((s) => s.role === 'compensation').map((s) => [s.key, s.status])).toEqual([
      ['other/compensate', 'succeeded'],
      ['change/compensate', 'succeeded'],
    ]);
    expect(run.error).not.toMatchObject({ code: 'cancelled' });
    expect(paths(target)).toEqual(['/change', '/other', '/missing', '/undo-other', '/undo-slow']);
  }, 120_000);
});
