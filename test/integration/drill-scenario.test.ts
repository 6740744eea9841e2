import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { scenarioDrillsOf } from '../../src/drills/capability.js';
import { loadScenarios } from '../../src/drills/scenarios.js';
import { TEST_DATABASE_URL } from '../support/databases.js';
import { type DrillHarness, people, startDrillHarness } from './drill-harness.js';

/**
 * Scenario drills: the repository's drills/checkout.yaml drives a real burn alert through the
 * SLO engine (the drill's own evaluator over the synthetic script), which starts
 * checkout-fast-burn as a DRILL run from Slack's `/drill … scenario=`. The real SLO status and
 * the deploy gate never see the burn; the audit trail says DRILL; the scenario's fault and
 * response delay shape the run.
 */
const kinds = [{ kind: 'pglite' as const }, ...(TEST_DATABASE_URL ? [{ kind: 'postgres' as const }] : [])];
const scenarioFile = readFileSync(new URL('../../drills/checkout.yaml', import.meta.url), 'utf8');

describe('drill scenario files', () => {
  it('the example loads; mistakes are located problems', () => {
    const dir = new URL('../../drills', import.meta.url).pathname;
    const { scenarios, problems } = loadScenarios(dir);
    expect(problems).toEqual([]);
    expect(scenarios.get('checkout-bad-deploy')).toMatchObject({ slo: 'checkout-availability', fail: ['rollback:once'], delaysMs: { scaleUp: 70_000 } });
    expect(scenarios.get('checkout-bad-deploy')?.script.phases[0]).toEqual({ atMs: -7_200_000, errorRatio: 0.0005 });
  });
});

describe.each(kinds)('scenario drills ($kind)', ({ kind }) => {
  let h: DrillHarness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('/drill scenario= fires the playbook through a real burn alert of the drill evaluator; the real SLO and the gate see nothing', async () => {
    const broken = 'apiVersion: quench/v1\nkind: DrillScenario\nmetadata: { name: broken }\nslo: checkout-availability\nsynthetic: { script: [{ at: soon, errorRatio: 2 }] }\n';
    h = await startDrillHarness(kind, { name: `drill_scenario_${kind}`, drills: { 'checkout.yaml': scenarioFile, 'broken.yaml': broken } });
    const drills = scenarioDrillsOf(h.service.ctx)!;
    expect(await h.slash('ada', '/drill', 'checkout-fast-burn scenario=nope')).toMatch(/no drill scenario named 'nope'.*known: checkout-bad-deploy.*broken\.yaml:5/);
    expect(await h.slash('ada', '/drill', 'checkout-fast-burn scenario=checkout-bad-deploy fail=nosuch')).toMatch(/fail= names no step of 'checkout-fast-burn': nosuch/);

    const answer = await h.slash('ada', '/drill', 'checkout-fast-burn scenario=checkout-bad-deploy');
    expect(answer).toMatch(/DRILL scenario \*checkout-bad-deploy\* armed/);
    // First evaluation: the burn is there, the page alert is pending (for: 2m); nothing started yet.
    expect(await h.service.ctx.ports.engine.listRuns()).toEqual([]);
    h.clock.advance(60_000);
    expect(await drills.tick()).toBe(1);
    expect(await h.service.ctx.ports.engine.listRuns()).toEqual([]);
    h.clock.advance(90_000);
    expect(await drills.tick()).toBe(0);
    const [summary] = await h.service.ctx.ports.engine.listRuns();
    expect(summary).toMatchObject({ playbook: 'checkout-fast-burn', drill: true });
    const run = await h.run(summary!.id);
    expect(run.drill).toEqual({ fail: ['rollback:once'], scenario: 'checkout-bad-deploy', delays: { scaleUp: 70_000 } });
    expect(run.startedBy).toBe('user:ada@example.com');
    expect(run.trigger).toMatchObject({
      source: 'slo',
      type: 'slo.burn',
      labels: { drill: 'true', scenario: 'checkout-bad-deploy', slo: 'checkout-availability' },
      slo: { name: 'checkout-availability', severity: 'page' },
    });
    expect(String((run.trigger as { summary: string }).summary)).toMatch(/^DRILL \(scenario checkout-bad-deploy\): SLO checkout-availability \(checkout\) is burning/);

    // Nothing of the drill reached the real SLO, its alert state, or the gate.
    await h.service.ctx.ports.slo.evaluateNow();
    const slo = await h.api('GET', '/v1/slos/checkout-availability', 'bob');
    expect(slo.body).toMatchObject({ alerts: { page: { status: 'inactive' } } });
    const gate = await h.api('GET', '/v1/deploy-gate?service=checkout&risk=high', 'bob');
    expect(gate.status).toBe(200);
    const audit = await h.service.ctx.audit.page({ limit: 2000 });
    const actions = audit.map((e) => e.action);
    expect(actions).toContain('drill.scenario.armed');
    expect(actions).toContain('drill.slo.alert.pending');
    expect(actions).toContain('drill.slo.alert.firing');
    expect(actions).toContain('drill.scenario.fired');
    expect(actions.filter((a) => a.startsWith('slo.alert.'))).toEqual([]);
    expect(audit.find((e) => e.action === 'drill.scenario.fired')?.data).toMatchObject({ runId: run.id, drill: true });
    // The DRILL run asks real people, with the banner.
    await h.until('the DRILL header', async () => (h!.slack.messages.some((m) => m.text.includes('DRILL · checkout-fast-burn')) ? true : undefined));
  }, 120_000);

  it('a response delay past the step timeout exercises it: the simulated action times out', async () => {
    const playbook = `apiVersion: quench/v1
kind: Playbook
metadata: { name: slowpoke, owner: team-shop }
triggers:
  - source: slo
    type: slo.burn
    slo: { name: checkout-availability }
steps:
  - id: scale
    kind: action
    action: log
    params: { message: scale }
    timeout: 1s
    retry: { maxAttempts: 1 }
    onFailure: continue
  - id: after
    kind: action
    action: log
    params: { message: after }
`;
    const scenario = `apiVersion: quench/v1
kind: DrillScenario
metadata: { name: slow-scale }
slo: checkout-availability
synthetic: { script: [{ at: -1h, errorRatio: 0.5 }] }
responseDelays: { scale: 3s }
`;
    h = await startDrillHarness(kind, { name: `drill_delay_${kind}`, playbooks: { 'slowpoke.yaml': playbook }, drills: { 's.yaml': scenario } });
    // Armed from the CLI (POST /v1/runs → 202 beside the running service).
    let out = '';
    const code = await runCli(['drill', 'slowpoke', '--scenario', 'slow-scale', '--json'], {
      stdout: (t) => void (out += t),
      stderr: (t) => void (out += t),
      env: { QUENCH_URL: h.base, QUENCH_TOKEN: people.bob.token },
    });
    expect(code, out).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ armed: true, drill: true, scenario: 'slow-scale', startedBy: 'user:bob@example.com' });
    h.clock.advance(150_000);
    await scenarioDrillsOf(h.service.ctx)!.tick();
    const [summary] = await h.service.ctx.ports.engine.listRuns();
    const run = await h.until('the drill to end', async () => {
      const r = await h!.run(summary!.id);
      return r.endedAt ? r : undefined;
    });
    expect(run.state).toBe('succeeded');
    expect(run.steps.find((s) => s.key === 'scale')).toMatchObject({ status: 'failed', error: { code: 'timeout' } });
    expect(run.steps.find((s) => s.key === 'after')?.output).toMatchObject({ simulated: true });
  }, 120_000);
});
