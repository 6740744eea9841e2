import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import type { GateAnswer } from '../../src/gate/core/decide.js';
import type { RunningService } from '../../src/service.js';
import type { FakePagerDuty } from '../support/fake-pagerduty.js';
import type { FakeSlack } from '../support/fake-slack.js';
import { databaseKinds } from '../support/databases.js';
import { auditOf, evaluateAt as evaluate, type ServiceHarness, startServiceHarness, syntheticSlo } from './service-harness.js';

/**
 * An automatic freeze that expires (budgetPolicy.freezeExpiresAfter, set for the service by a
 * ServicePolicy document) lifts on its own although the budget has not recovered, does not
 * re-freeze for the same condition, and re-freezes when the budget falls 5 points further.
 *
 * Budget arithmetic (99.9% over 30 d: 43.2 error-minutes): 50% errors from T0+10m to T0+70m
 * spend 0.5·60/43.2 = 69.4% (30.6% left); a second burst from T0+240m to T0+260m spends another
 * 23.1% (7.4% left), more than 5 points below the level at the expiry.
 */
const slo = syntheticSlo({
  name: 'shop-availability',
  service: 'shop',
  owner: '#shop-oncall',
  sli: `    anchor: start
    script:
      - { at: "0", errorRatio: 0 }
      - { at: 10m, errorRatio: 0.5 }
      - { at: 70m, errorRatio: 0 }
      - { at: 240m, errorRatio: 0.5 }
      - { at: 260m, errorRatio: 0 }`,
  rest: 'budgetPolicy: { freezeOnPage: false }\n',
});

const servicePolicy = `apiVersion: quench/v1
kind: ServicePolicy
service: shop
budgetPolicy: { freezeBelow: 50, recoverAbove: 60, freezeExpiresAfter: 2h }
`;

const T0 = Date.parse('2026-03-02T08:00:00.000Z');
const MIN = 60_000;
const token = 'alice-token-0123456789abcdefghijklmnop';

describe.each(databaseKinds)('an automatic freeze expires on %s', (kind) => {
  let h: ServiceHarness;
  let service: RunningService;
  let base: string;
  let slack: FakeSlack;
  let pd: FakePagerDuty;
  const clock = new ManualClock(T0);

  const gate = async () => {
    const res = await fetch(`${base}/v1/deploy-gate?service=shop&risk=high`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as GateAnswer };
  };
  const evaluateAt = (ms: number) => evaluate(service, clock, ms);
  const audit = (action: string) => auditOf(service, action);

  beforeAll(async () => {
    h = await startServiceHarness({ kind, name: 'gate_expiry', files: { 'shop.yaml': slo, 'shop-policy.yaml': servicePolicy }, clock, tokens: { alice: token }, pagerDuty: true });
    ({ service, base, slack } = h);
    pd = h.pd!;
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('lifts at the expiry without recovery, holds for the unchanged condition, re-freezes when the budget falls further', async () => {
    await evaluateAt(T0);
    await evaluateAt(T0 + 60 * MIN);
    const frozen = await gate();
    expect(frozen.status).toBe(423);
    // The freeze carries its expiry (from the ServicePolicy's freezeExpiresAfter: 2h).
    expect(frozen.body.freezes[0]).toMatchObject({ kind: 'auto', until: new Date(T0 + 180 * MIN).toISOString() });

    await evaluateAt(T0 + 179 * MIN);
    expect((await gate()).status).toBe(423);

    // Expiry: 30.6% left, still below freezeBelow (50%) and recoverAbove (60%), yet it lifts.
    await evaluateAt(T0 + 180 * MIN);
    expect((await gate()).status).toBe(200);
    const [lift] = await audit('gate.lift');
    expect(lift!.data.reason).toContain('the automatic freeze expired at');
    expect(lift!.data.reason).toContain('although budget remaining');
    const evidence = lift!.data.evidence as { budgetRemaining: number; expiry: { budgetRemaining: number; triggers: string[] } };
    expect(evidence.budgetRemaining).toBeCloseTo(1 - (0.5 * 60) / 43.2, 6);
    expect(evidence.expiry).toMatchObject({ expiredAt: new Date(T0 + 180 * MIN).toISOString(), triggers: ['budget'] });
    expect(slack.messages.filter((m) => m.channel === '#shop-oncall').map((m) => m.text)).toEqual([
      expect.stringContaining('shop is frozen'),
      expect.stringContaining('lifted: the automatic freeze expired'),
    ]);
    expect(pd.changeEvents.map((e) => e.payload.summary)).toEqual([expect.stringContaining('shop is frozen'), expect.stringContaining('lifted')]);

    // The same condition on the next evaluations: no re-freeze.
    await evaluateAt(T0 + 181 * MIN);
    await evaluateAt(T0 + 239 * MIN);
    expect((await gate()).status).toBe(200);
    expect(await audit('gate.freeze')).toHaveLength(1);

    // Worse: 7.4% left, more than 5 points below the 30.6% at the expiry, within the cool-down.
    await evaluateAt(T0 + 260 * MIN);
    const again = await gate();
    expect(again.status).toBe(423);
    const freezes = await audit('gate.freeze');
    expect(freezes).toHaveLength(2);
    expect(freezes[1]!.data.reason).toContain('5 points under its level when the last freeze expired');
  });
});
