import { afterEach, describe, expect, it } from 'vitest';
import { ACTION } from '../../src/chat/core/blocks.js';
import { TEST_DATABASE_URL } from '../support/databases.js';
import { DRILL_ROUTING_KEY, type DrillHarness, people, startDrillHarness } from './drill-harness.js';

/**
 * Issue 13 acceptance, drills from Slack: `/drill checkout-fast-burn fail=page` through the
 * Slack fake (signed, real wire format) on the repository's playbooks/checkout.yaml. The drill
 * is marked DRILL, makes no state-changing call (the stand-in kubectl reports to a local
 * target: only the drillSafe `rollout history` read arrives), pages nobody, leaves the real
 * deploy gate open, ends `compensated` and posts a scorecard naming the injected failure and
 * the compensations.
 */
const kinds = [{ kind: 'pglite' as const }, ...(TEST_DATABASE_URL ? [{ kind: 'postgres' as const }] : [])];

describe.each(kinds)('drills from Slack ($kind)', ({ kind }) => {
  let h: DrillHarness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  /** Moves the injected clock on until the run ends (waits, retries' back-off), the worker polling meanwhile. */
  async function driveToEnd(runId: string) {
    return h!.until(
      'the drill to end',
      async () => {
        const r = await h!.run(runId);
        if (r.endedAt) return r;
        h!.clock.advance(60_000);
        return undefined;
      },
      90_000,
    );
  }

  it('/drill with fail= on a state-changing step of checkout.yaml ends compensated, reaches nothing real, leaves the gate open, posts its scorecard', async () => {
    h = await startDrillHarness(kind, { name: `slack_drill_${kind}` });
    // Malformed or unknown requests are answered ephemerally and start nothing.
    expect(await h.slash('ada', '/drill', '')).toMatch(/name the playbook first/);
    expect(await h.slash('ada', '/drill', 'checkout-fast-burn fail=nosuch')).toMatch(/fail= names no step of 'checkout-fast-burn': nosuch/);
    expect(await h.slash('ada', '/drill', 'checkout-fast-burn fail=page:twice')).toMatch(/must be once or always/);
    expect(await h.slash('ada', '/quench', 'run checkout-fast-burn surgeReplicas=many')).toMatch(/input 'surgeReplicas': expected an integer/);
    expect(await h.slash('ada', '/quench', 'run nope')).toMatch(/no playbook named 'nope'/);
    expect(await h.service.ctx.ports.engine.listRuns()).toEqual([]);

    const answer = await h.slash('ada', '/drill', 'checkout-fast-burn fail=page surgeReplicas=9');
    expect(answer).toMatch(/DRILL run `[^`]+` of \*checkout-fast-burn\* started by <@U0ADA>.*failing on purpose: page/);
    const runId = /`([^`]+)`/.exec(answer)![1]!;
    const started = await h.run(runId);
    expect(started).toMatchObject({ drill: { fail: ['page'] }, startedBy: 'user:ada@example.com', inputs: { surgeReplicas: 9 }, trigger: { source: 'drill', labels: { via: 'slack' } } });

    // The human step goes to real people with the DRILL banner; the starter may not approve it.
    const stepId = await h.until('the approval to be offered', async () => {
      const r = await h!.run(runId);
      const s = r.steps.find((x) => x.key === 'approveRollback' && x.status === 'waiting');
      return s && h!.slack.messages.some((m) => JSON.stringify(m.blocks ?? []).includes(s.id)) ? s.id : undefined;
    });
    const stepMessage = h.slack.messages.find((m) => JSON.stringify(m.blocks ?? []).includes(stepId))!;
    expect(JSON.stringify(stepMessage.blocks)).toContain('*DRILL*');
    const header = h.slack.messages.find((m) => m.threadTs === undefined && m.text.includes('DRILL · checkout-fast-burn'));
    expect(header).toBeDefined();
    expect(JSON.stringify(header!.blocks)).toContain('quench_cancel_run');
    await h.click('ada', ACTION.approve, stepId);
    await h.until('the starter refused', async () =>
      h!.slack.callsTo('chat.postEphemeral').some((c) => String(c.args.text).includes('You started this run')) ? true : undefined,
    );
    // risk: high needs two approvers other than the starter.
    await h.click('bob', ACTION.approve, stepId);
    await h.click('eve', ACTION.approve, stepId);

    const run = await driveToEnd(runId);
    expect(run.state).toBe('compensated');
    const step = (key: string) => run.steps.find((s) => s.key === key);
    // Simulated steps record what they would have done, with their templates rendered.
    expect(step('rollback')?.output).toEqual({
      simulated: true,
      drill: true,
      action: 'exec',
      wouldHave: expect.objectContaining({ argv: ['kubectl', 'rollout', 'undo', 'deployment/checkout', '-n', 'shop'] }),
    });
    expect(step('scaleUp')?.output).toMatchObject({ simulated: true, wouldHave: { argv: ['kubectl', 'scale', 'deployment/checkout', '--replicas=9', '-n', 'shop'] } });
    // The injected failure went through the step's retries (5 attempts, retryOn http_429 …) before failing for good.
    expect(step('page')).toMatchObject({ status: 'failed', error: { details: { injected: true } } });
    expect(step('page')!.attempts).toHaveLength(5);
    expect(step('scaleUp/compensate')?.status).toBe('succeeded');
    expect(step('rollback/compensate')?.status).toBe('succeeded');
    expect(step('rollback/compensate')?.output).toMatchObject({ simulated: true });

    // Nothing real: only the drillSafe read reached the target, PagerDuty saw no event, the gate is open.
    expect(h.target.seen).toEqual(['POST /kubectl rollout history deployment/checkout -n shop']);
    expect(h.pd.events).toEqual([]);
    const gate = await h.api('GET', '/v1/deploy-gate?service=checkout&risk=high', 'bob');
    expect(gate.status).toBe(200);
    expect(gate.body).toMatchObject({ allowed: true, freezes: [] });

    // The audit trail carries the simulated parameters.
    const audit = await h.service.ctx.audit.page({ limit: 2000 });
    const simulated = audit.find((e) => e.action === 'step.succeeded' && (e.data as { step?: string }).step === 'rollback');
    expect(simulated?.data).toMatchObject({ simulated: { wouldHave: { argv: ['kubectl', 'rollout', 'undo', 'deployment/checkout', '-n', 'shop'] } } });

    // The scorecard, posted to the incident thread, names the failure and the compensations.
    const posted = await h.until('the scorecard in the thread', async () =>
      h!.slack.messages.find((m) => m.threadTs === header!.ts && m.text.includes('DRILL scorecard')),
    );
    expect(posted.text).toContain('checkout-fast-burn ended compensated');
    expect(posted.text).toMatch(/failures injected: page/);
    expect(posted.text).toMatch(/retries exercised: page/);
    expect(posted.text).toMatch(/compensations: scaleUp succeeded, rollback succeeded/);
    expect(posted.text).toMatch(/no_compensation page/);
    const card = (await h.api('GET', `/v1/runs/${runId}/scorecard`, 'bob')).body;
    expect(card).toMatchObject({ finalState: 'compensated', failuresInjected: ['page'], compensations: [{ step: 'scaleUp', succeeded: true }, { step: 'rollback', succeeded: true }] });
    expect(card.timeToFirstAckMs).toBeGreaterThanOrEqual(0);
  }, 180_000);

  it('a run started from Slack is its starter\'s under every name: a token named by her Slack id may not approve it', async () => {
    // QUENCH_API_TOKENS may name people by Slack id (docs/slack.md); Ada's Slack start records her email.
    h = await startDrillHarness(kind, {
      name: `slack_starter_${kind}`,
      env: { QUENCH_API_TOKENS: `U0ADA=${people.ada.token},bob@example.com=${people.bob.token},eve@example.com=${people.eve.token}` },
    });
    const answer = await h.slash('ada', '/drill', 'checkout-fast-burn fail=page surgeReplicas=9');
    const runId = /`([^`]+)`/.exec(answer)![1]!;
    expect(await h.run(runId)).toMatchObject({ startedBy: 'user:ada@example.com' });
    const stepId = await h.until('the approval to be offered', async () => {
      const st = (await h!.run(runId)).steps.find((x) => x.key === 'approveRollback' && x.status === 'waiting');
      return st && h!.slack.messages.some((m) => JSON.stringify(m.blocks ?? []).includes(st.id)) ? st.id : undefined;
    });

    const own = await h.api('POST', `/v1/steps/${stepId}/decision`, 'ada', { decision: 'approve' });
    expect(own.status).toBe(403);
    expect(JSON.stringify(own.body)).toMatch(/You started this run/);
    expect((await h.run(runId)).steps.find((x) => x.id === stepId)?.status).toBe('waiting');
    // Two other people still decide it.
    expect((await h.api('POST', `/v1/steps/${stepId}/decision`, 'bob', { decision: 'approve' })).status).toBe(200);
    expect((await h.api('POST', `/v1/steps/${stepId}/decision`, 'eve', { decision: 'approve' })).status).toBe(200);
  });

  it('fail=STEP:once fails the first attempt only: the retry succeeds and the run goes on', async () => {
    const playbook = `apiVersion: quench/v1
kind: Playbook
metadata: { name: once, owner: team-shop }
steps:
  - id: change
    kind: action
    action: log
    params: { message: "change \${{ inputs.what }}" }
    retry: { maxAttempts: 3, initialDelay: 1s, maxDelay: 1s }
  - id: after
    kind: action
    action: log
    params: { message: after }
inputs:
  what: { type: string, default: thing }
`;
    h = await startDrillHarness(kind, { name: `slack_drill_once_${kind}`, playbooks: { 'once.yaml': playbook } });
    const answer = await h.slash('bob', '/quench', 'drill once fail=change:once what="two words"');
    const runId = /`([^`]+)`/.exec(answer)![1]!;
    const run = await driveToEnd(runId);
    expect(run.state).toBe('succeeded');
    const change = run.steps.find((s) => s.key === 'change')!;
    expect(change.attempts.map((a) => a.status)).toEqual(['failed', 'succeeded']);
    expect(change.output).toMatchObject({ simulated: true, wouldHave: { message: 'change two words' } });
    expect(people.bob.email).toBe('bob@example.com');
  }, 120_000);

  it('with QUENCH_PAGERDUTY_DRILL_ROUTING_KEY a drill pages through the drill key, marked [DRILL]; the real key sees nothing', async () => {
    const playbook = `apiVersion: quench/v1
kind: Playbook
metadata: { name: pager, owner: team-shop }
steps:
  - id: page
    kind: action
    action: pagerduty.trigger
    params: { summary: "checkout burning in \${{ inputs.region }}", severity: critical }
inputs:
  region: { type: string, default: eu-west }
`;
    h = await startDrillHarness(kind, { name: `slack_drill_pd_${kind}`, playbooks: { 'pager.yaml': playbook }, env: { QUENCH_PAGERDUTY_DRILL_ROUTING_KEY: DRILL_ROUTING_KEY } });
    const runId = /`([^`]+)`/.exec(await h.slash('ada', '/drill', 'pager region=us-east'))![1]!;
    const run = await driveToEnd(runId);
    expect(run.state).toBe('succeeded');
    expect(h.pd.events).toHaveLength(1);
    expect(h.pd.events[0]).toMatchObject({ routing_key: DRILL_ROUTING_KEY, event_action: 'trigger', payload: { summary: '[DRILL] checkout burning in us-east' } });
    expect(run.steps[0]?.output).toMatchObject({ drill: true, routed: 'pagerduty-drill-routing-key' });
    // A real run of the same playbook uses the real key.
    const real = await h.slash('ada', '/quench', 'run pager');
    const realRun = await driveToEnd(/`([^`]+)`/.exec(real)![1]!);
    expect(realRun.state).toBe('succeeded');
    expect(h.pd.events.map((e) => e.routing_key)).toEqual([DRILL_ROUTING_KEY, 'R0UTINGKEY0000000000000000000000']);
  }, 120_000);
});
