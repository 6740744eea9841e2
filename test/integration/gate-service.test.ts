import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import type { GateAnswer } from '../../src/gate/core/decide.js';
import type { RunningService } from '../../src/service.js';
import type { FakePagerDuty } from '../support/fake-pagerduty.js';
import type { FakeSlack } from '../support/fake-slack.js';
import { databaseKinds } from '../support/databases.js';
import { auditOf, cliWith, evaluateAt as evaluate, type ServiceHarness, slashCommand, startServiceHarness, syntheticSlo } from './service-harness.js';

/**
 * The deploy gate end to end in one service, on the synthetic source and a manual clock: an
 * hour of 50% errors (99.9% over 30 days) spends more than half the budget, freezing the gate;
 * thirty days later the burst slides out of the window and the freeze lifts, but only past
 * recoverAbove (60%), not at freezeBelow (50%).
 *
 * Budget arithmetic: 30 d of budget at 99.9% is 43.2 error-minutes; X minutes at 50% spend
 * 0.5·X/43.2 of it. Burst from T0+10m to T0+70m.
 */
const slo = syntheticSlo({
  name: 'shop-availability',
  service: 'shop',
  owner: '#shop-oncall',
  sli: `    anchor: start
    script:
      - { at: "0", errorRatio: 0 }
      - { at: 10m, errorRatio: 0.5 }
      - { at: 70m, errorRatio: 0 }`,
  rest: 'budgetPolicy: { freezeBelow: 50, recoverAbove: 60, freezeOnPage: false }\n',
});

/** Freezes shop while it remediates; the second step fails, so the run's compensation lifts the freeze. */
const playbook = `apiVersion: quench/v1
kind: Playbook
metadata: { name: remediate-shop, owner: team-shop }
steps:
  - id: freeze
    kind: action
    action: deploy.freeze
    params: { services: [shop], reason: "remediation in progress", until: 1h }
  - id: hold
    kind: action
    action: log
    params: { message: "frozen while we look" }
  - id: check
    kind: action
    action: slo.check
    params: { slo: no-such-slo }
`;

const T0 = Date.parse('2026-03-02T08:00:00.000Z');
const MIN = 60_000;
const DAY = 86_400_000;
const tokens = { alice: 'alice-token-0123456789abcdefghijklmnop', bob: 'bob-token-0123456789abcdefghijklmnopqr', carol: 'carol-token-0123456789abcdefghijklmnop' };

describe.each(databaseKinds)('deploy gate in the service on %s', (kind) => {
  let h: ServiceHarness;
  let dir: string;
  let service: RunningService;
  let base: string;
  let slack: FakeSlack;
  let pd: FakePagerDuty;
  const clock = new ManualClock(T0);

  const gate = async (query: string, token?: string) => {
    const res = await fetch(`${base}/v1/deploy-gate?${query}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.status, body: (await res.json()) as GateAnswer & { message?: string } };
  };
  const evaluateAt = (ms: number) => evaluate(service, clock, ms);
  const cli = (args: string[], env: Record<string, string> = {}) => cliWith(args, { QUENCH_URL: base, QUENCH_TOKEN: tokens.alice, ...env });
  const audit = (action: string) => auditOf(service, action);
  const api = (method: string, path: string, token: string | undefined, body?: unknown) =>
    fetch(`${base}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  beforeAll(async () => {
    h = await startServiceHarness({ kind, name: 'gate', files: { 'shop.yaml': slo, 'remediate.yaml': playbook }, clock, tokens, playbooks: true, pagerDuty: true });
    ({ dir, service, base, slack } = h);
    pd = h.pd!;
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('raising the error ratio freezes high-risk deploys within one evaluation; low risk passes; blocks are audited', async () => {
    await evaluateAt(T0);
    expect((await gate('service=shop&risk=high', tokens.alice)).status).toBe(200);
    // 30 minutes into the burst: 0.5·30/43.2 = 35% spent, above freezeBelow.
    await evaluateAt(T0 + 40 * MIN);
    expect((await gate('service=shop', tokens.alice)).status).toBe(200);
    // 50 minutes in: 58% spent, 42% left ≤ 50%: the next evaluation freezes.
    await evaluateAt(T0 + 60 * MIN);
    const frozen = await gate('service=shop&risk=high&change=sha-abc', tokens.alice);
    expect(frozen.status).toBe(423);
    expect(frozen.body).toMatchObject({ allowed: false, service: 'shop', change: 'sha-abc', until: null });
    expect(frozen.body.reasons[0]).toMatchObject({ slo: 'shop-availability', link: '/v1/slos/shop-availability' });
    expect(frozen.body.reasons[0]!.budgetRemaining).toBeCloseTo(1 - (0.5 * 50) / 43.2, 6);
    expect(frozen.body.reasons[0]!.burnRate).toBeGreaterThan(100);
    expect(frozen.body.freezes).toHaveLength(1);
    expect((await gate('service=shop&risk=low', tokens.alice)).status).toBe(200);

    const check = await cli(['gate', 'check', 'shop', '--change', 'sha-def']);
    expect(check.code).toBe(3);
    expect(check.stdout).toContain('frozen: shop (high risk)');
    expect(check.stdout).toContain('shop-availability');
    expect((await cli(['gate', 'check', 'shop', '--risk', 'low'])).code).toBe(0);

    const blocked = await audit('gate.blocked');
    expect(blocked.map((e) => e.data.change)).toEqual(['sha-abc', 'sha-def']);
    const [freeze] = await audit('gate.freeze');
    expect(freeze!.data).toMatchObject({ kind: 'auto', slo: 'shop-availability', evidence: { slo: 'shop-availability' } });
    expect((freeze!.data.evidence as { budgetRemaining: number }).budgetRemaining).toBeLessThanOrEqual(0.5);

    expect(slack.messages.filter((m) => m.channel === '#shop-oncall').map((m) => m.text)).toEqual([
      expect.stringContaining('shop is frozen for high-risk deploy'),
    ]);
    expect(pd.changeEvents.map((e) => e.payload.summary)).toEqual([expect.stringContaining('shop is frozen')]);
  });

  it('an unknown service is 404 (exit 2), a bad risk 400: a pipeline must not pass on a typo', async () => {
    const typo = await gate('service=shpo', tokens.alice);
    expect(typo.status).toBe(404);
    expect(typo.body.message).toContain("unknown service 'shpo'");
    expect(typo.body.message).toContain('known services: shop');
    expect((await gate('service=shop&risk=medium', tokens.alice)).status).toBe(400);
    expect((await gate('risk=high', tokens.alice)).status).toBe(400);
    const check = await cli(['gate', 'check', 'shpo']);
    expect(check.code).toBe(2);
    expect(check.stderr).toContain("unknown service 'shpo'");
    expect((await cli(['gate', 'check', 'shop'], { QUENCH_URL: 'http://127.0.0.1:1' })).code).toBe(2);
  });

  it('an override approved by two people other than the requester lets only the named change through, until it expires', async () => {
    const requested = await api('POST', '/v1/overrides', tokens.alice, { service: 'shop', change: 'hotfix-1', reason: 'payment bug fix', until: '30m' });
    expect(requested.status).toBe(201);
    const { id } = (await requested.json()) as { id: string };
    const self = await api('POST', `/v1/overrides/${id}/approve`, tokens.alice);
    expect(self.status).toBe(403);
    expect(JSON.stringify(await self.json())).toContain('four-eyes');
    expect((await api('POST', `/v1/overrides/${id}/approve`, tokens.bob)).status).toBe(200);
    expect((await api('POST', `/v1/overrides/${id}/approve`, tokens.bob)).status).toBe(409);
    expect((await gate('service=shop&change=hotfix-1', tokens.alice)).status).toBe(423);
    const second = await cli(['override', 'approve', id], { QUENCH_TOKEN: tokens.carol });
    expect(second.stdout).toContain('in force');
    const through = await gate('service=shop&change=hotfix-1', tokens.alice);
    expect(through.status).toBe(200);
    expect(through.body.override?.id).toBe(id);
    expect((await gate('service=shop&change=other', tokens.alice)).status).toBe(423);
    expect((await gate('service=shop', tokens.alice)).status).toBe(423);
    // It ends on its own.
    clock.set(T0 + 60 * MIN + 31 * MIN);
    await service.ctx.ports.gate!.sweep();
    expect((await gate('service=shop&change=hotfix-1', tokens.alice)).status).toBe(423);
    expect((await audit('gate.override.approved')).map((e) => e.actor.id)).toEqual(['bob', 'carol']);
    expect(await audit('gate.override.ended')).toHaveLength(1);
  });

  it('recovery lifts the freeze only past recoverAbove and once the alert has resolved', async () => {
    // The burst slides out of the 30-day window: 20 minutes out, 40 of its minutes remain,
    // 46% spent: above freezeBelow but not above recoverAbove, so the gate stays frozen.
    await evaluateAt(T0 + 30 * DAY + 30 * MIN);
    const held = await gate('service=shop', tokens.alice);
    expect(held.status).toBe(423);
    expect(held.body.reasons[0]!.budgetRemaining).toBeCloseTo(1 - (0.5 * 40) / 43.2, 6);
    // 30 minutes out: 35% spent, 65% left > 60%: lifted.
    await evaluateAt(T0 + 30 * DAY + 40 * MIN);
    expect((await gate('service=shop', tokens.alice)).status).toBe(200);
    const [lift] = await audit('gate.lift');
    expect(lift!.data).toMatchObject({ slo: 'shop-availability', evidence: { pageAlert: expect.stringMatching(/inactive|resolved/) } });
    expect(slack.messages.at(-1)!.text).toContain('lifted');
    expect(pd.changeEvents.at(-1)!.payload.summary).toContain('lifted');
  });

  it('manual freezes: reason, scope and expiry; refused without a token or with a bad time; lifted early by id', async () => {
    expect((await api('POST', '/v1/freezes', undefined, { services: ['shop'], reason: 'holiday', until: '2h' })).status).toBe(401);
    const bad = await api('POST', '/v1/freezes', tokens.alice, { services: ['shop'], reason: 'holiday', until: 'next week' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain('duration');
    expect((await api('POST', '/v1/freezes', tokens.alice, { services: ['shpo'], reason: 'holiday', until: '2h' })).status).toBe(404);

    const made = await cli(['freeze', '*', '--reason', 'release freeze', '--until', '2h'], { QUENCH_TOKEN: tokens.alice });
    expect(made.code).toBe(0);
    const id = made.stdout.split('\n')[0]!;
    const frozen = await gate('service=shop', tokens.bob);
    expect(frozen.status).toBe(423);
    expect(frozen.body.reasons[0]!.message).toContain('release freeze');
    expect(frozen.body.until).toBe(new Date(clock.now().getTime() + 2 * 3_600_000).toISOString());
    expect((await gate('service=shop&risk=low', tokens.bob)).status).toBe(200);
    const listed = (await (await api('GET', '/v1/freezes', tokens.bob)).json()) as { freezes: Array<{ id: string }> };
    expect(listed.freezes.map((f) => f.id)).toEqual([id]);

    const lifted = await cli(['unfreeze', id], { QUENCH_TOKEN: tokens.bob });
    expect(lifted.code).toBe(0);
    expect((await gate('service=shop', tokens.bob)).status).toBe(200);
    expect((await api('DELETE', `/v1/freezes/${id}`, tokens.bob)).status).toBe(409);

    // Expiry: a second freeze ends on its own at its time.
    const again = (await (await api('POST', '/v1/freezes', tokens.alice, { services: ['shop'], reason: 'deploy window closed', until: '10m' })).json()) as { id: string };
    expect((await gate('service=shop', tokens.bob)).status).toBe(423);
    clock.set(clock.now().getTime() + 11 * MIN);
    await service.ctx.ports.gate!.sweep();
    expect((await gate('service=shop', tokens.bob)).status).toBe(200);
    const lifts = await audit('gate.lift');
    expect(lifts.map((e) => e.subject.id)).toEqual(expect.arrayContaining([id, again.id]));
    expect(lifts.find((e) => e.subject.id === again.id)!.data.reason).toContain('expired');
  });

  it('Slack: /quench freeze, /quench status shows it, overrides need two other Slack users', async () => {
    const slash = (user: string, text: string) => slashCommand(base, clock, user, text);
    const made = await slash('U1', 'freeze shop 2h payments migration');
    const id = /`(frz_[^`]+)`/.exec(made)![1]!;
    expect((await gate('service=shop', tokens.alice)).status).toBe(423);
    expect(await slash('U2', 'status')).toContain(`${id} shop (manual, blocks high-risk deploy`);
    const sloStatus = await cli(['slo', 'status'], { PORT: String(service.port), QUENCH_SLO_DIR: dir, QUENCH_API_TOKENS: `bob=${tokens.bob}` });
    expect(sloStatus.stdout).toContain('Deploy freezes (1):');
    expect(sloStatus.stdout).toContain(`${id} shop (blocks high-risk deploy until`);
    const requested = await slash('U1', 'override request shop 1h change=fix-7 hotfix for the migration');
    const ovr = /`(ovr_[^`]+)`/.exec(requested)![1]!;
    expect(await slash('U1', `override approve ${ovr}`)).toContain('four-eyes');
    expect(await slash('U2', `override approve ${ovr}`)).toContain('needs one more approver');
    expect(await slash('U3', `override approve ${ovr}`)).toContain('in force');
    expect((await gate('service=shop&change=fix-7', tokens.alice)).status).toBe(200);
    expect((await gate('service=shop&change=fix-8', tokens.alice)).status).toBe(423);
    expect(await slash('U2', `unfreeze ${id}`)).toContain('lifted');
    expect((await gate('service=shop&change=fix-8', tokens.alice)).status).toBe(200);
    expect(await slash('U2', 'freeze shop soon oops')).toContain('Refused');
  });

  it('playbooks: deploy.freeze freezes while the run remediates; deploy.unfreeze, its compensation, lifts it', async () => {
    const version = service.ctx.ports.playbooks!.current('remediate-shop')!;
    const { runId } = await service.ctx.ports.engine.startRun({ playbook: { definition: version.definition, hash: version.hash } });
    let state = '';
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      state = (await service.ctx.ports.engine.getRun(runId))!.state;
      if (state === 'compensated' || state === 'compensation_failed' || state === 'failed') break;
    }
    expect(state).toBe('compensated');
    const freezes = (await audit('gate.freeze')).filter((e) => e.actor.id === `run:${runId}`);
    expect(freezes).toHaveLength(1);
    expect(freezes[0]!.data).toMatchObject({ services: ['shop'], reason: 'remediation in progress', kind: 'manual' });
    const lifts = (await audit('gate.lift')).filter((e) => e.subject.id === freezes[0]!.subject.id);
    expect(lifts).toHaveLength(1);
    expect(lifts[0]!.seq).toBeGreaterThan(freezes[0]!.seq);
    expect((await gate('service=shop', tokens.alice)).status).toBe(200);
  });

  it('an SLO no longer defined lifts its freeze and leaves the stored budgets', async () => {
    const gateOps = service.ctx.ports.gate!;
    const shop = service.ctx.ports.slo.get('shop-availability')!;
    const retired = { ...shop, name: 'retired-slo', errorBudget: { ...shop.errorBudget, remaining: -1 } };
    await gateOps.observe([shop, retired]);
    expect((await gate('service=shop', tokens.alice)).body.reasons.map((r) => r.slo)).toEqual(['retired-slo']);
    await gateOps.observe([shop]);
    expect((await gate('service=shop', tokens.alice)).status).toBe(200);
    const lift = (await audit('gate.lift')).at(-1)!;
    expect(lift.data).toMatchObject({ slo: 'retired-slo', reason: 'SLO retired-slo is no longer defined' });
    expect(service.ctx.ports.sloStored!().map((s) => s.name)).toEqual(['shop-availability']);
  });
});
