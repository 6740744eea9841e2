import { describe, expect, it } from 'vitest';
import { decide } from '../../../src/gate/core/decide.js';
import type { BudgetReading, Freeze, Override } from '../../../src/gate/core/model.js';
import { approve } from '../../../src/gate/core/override.js';
import { stepFreeze } from '../../../src/gate/core/policy.js';
import { parseUntil } from '../../../src/gate/core/until.js';

const policy = { freezeBelow: 0.25, freezeAllBelow: null, recoverAbove: 0.35, freezeOnPage: true, freezeWhenExhaustedWithinMs: null, freezeExpiresAfterMs: null };
const reading = (over: Partial<BudgetReading> = {}): BudgetReading => ({
  slo: 'checkout-availability',
  service: 'checkout',
  state: 'ok',
  evaluatedAt: '2026-01-05T00:00:00.000Z',
  budgetRemaining: 0.5,
  burnRates: { '1h': 1 },
  currentBurn: 1,
  timeToExhaustionSeconds: null,
  page: 'inactive',
  policy,
  ...over,
});

describe('error budget policy', () => {
  it('freezes at or below freezeBelow, not above', () => {
    expect(stepFreeze(reading({ budgetRemaining: 0.2501 }), undefined)).toEqual({ action: 'hold' });
    const step = stepFreeze(reading({ budgetRemaining: 0.25 }), undefined);
    expect(step).toMatchObject({ action: 'freeze', blocks: 'high' });
    expect(step.action === 'freeze' && step.reasons[0]).toContain('25%');
  });

  it('freezes while a page alert fires, and only when freezeOnPage is on', () => {
    expect(stepFreeze(reading({ page: 'firing' }), undefined)).toMatchObject({ action: 'freeze' });
    expect(stepFreeze(reading({ page: 'pending' }), undefined)).toEqual({ action: 'hold' });
    expect(stepFreeze(reading({ page: 'firing', policy: { ...policy, freezeOnPage: false } }), undefined)).toEqual({ action: 'hold' });
  });

  it('freezes when the budget runs out within the bound', () => {
    const p = { ...policy, freezeWhenExhaustedWithinMs: 24 * 3_600_000 };
    expect(stepFreeze(reading({ policy: p, timeToExhaustionSeconds: 86_401 }), undefined)).toEqual({ action: 'hold' });
    expect(stepFreeze(reading({ policy: p, timeToExhaustionSeconds: 86_400 }), undefined)).toMatchObject({ action: 'freeze' });
  });

  it('lifts only above recoverAbove (hysteresis) and once the page alert has resolved', () => {
    const active = { blocks: 'high' as const };
    expect(stepFreeze(reading({ budgetRemaining: 0.3 }), active)).toEqual({ action: 'hold' });
    expect(stepFreeze(reading({ budgetRemaining: 0.35 }), active)).toEqual({ action: 'hold' });
    expect(stepFreeze(reading({ budgetRemaining: 0.36, page: 'firing' }), active)).toEqual({ action: 'hold' });
    expect(stepFreeze(reading({ budgetRemaining: 0.36, page: 'pending' }), active)).toEqual({ action: 'hold' });
    expect(stepFreeze(reading({ budgetRemaining: 0.36, page: 'resolved' }), active)).toMatchObject({ action: 'lift' });
  });

  it('no data or a failed evaluation holds the current state', () => {
    expect(stepFreeze(reading({ state: 'no_data', budgetRemaining: null }), { blocks: 'high' })).toEqual({ action: 'hold' });
    expect(stepFreeze(reading({ state: 'error', budgetRemaining: 0 }), undefined)).toEqual({ action: 'hold' });
  });

  it('blocks every risk at or below freezeAllBelow, and narrows again as the budget recovers', () => {
    const p = { ...policy, freezeAllBelow: 0 };
    expect(stepFreeze(reading({ policy: p, budgetRemaining: 0 }), undefined)).toMatchObject({ action: 'freeze', blocks: 'all' });
    expect(stepFreeze(reading({ policy: p, budgetRemaining: 0.1 }), { blocks: 'all' })).toMatchObject({ action: 'reblock', blocks: 'high' });
    expect(stepFreeze(reading({ policy: p, budgetRemaining: -0.2 }), { blocks: 'high' })).toMatchObject({ action: 'reblock', blocks: 'all' });
  });

  describe('freezeExpiresAfter', () => {
    const HOUR = 3_600_000;
    const p = { ...policy, freezeExpiresAfterMs: 4 * HOUR };
    const expiredAt = Date.parse('2026-01-05T04:00:00.000Z');
    const active = { blocks: 'high' as const, until: new Date(expiredAt).toISOString() };

    it('expires a freeze at its until even though the budget has not recovered, and marks what held then', () => {
      expect(stepFreeze(reading({ policy: p, budgetRemaining: 0.1 }), active, { nowMs: expiredAt - 1 })).toEqual({ action: 'hold' });
      const step = stepFreeze(reading({ policy: p, budgetRemaining: 0.1 }), active, { nowMs: expiredAt });
      expect(step).toMatchObject({ action: 'expire', mark: { expiredAt: active.until, budgetRemaining: 0.1, triggers: ['budget'] } });
      expect(step.action === 'expire' && step.reasons[0]).toContain('although budget remaining 10%');
      // No data at the expiry still ends it: the expiry is a promise.
      expect(stepFreeze(reading({ policy: p, state: 'no_data', budgetRemaining: null }), active, { nowMs: expiredAt + 1 })).toMatchObject({ action: 'expire' });
    });

    it('does not re-freeze for the unchanged condition within the cool-down', () => {
      const lastExpiry = { expiredAt: active.until, budgetRemaining: 0.1, triggers: ['budget' as const] };
      expect(stepFreeze(reading({ policy: p, budgetRemaining: 0.1 }), undefined, { nowMs: expiredAt + 60_000, lastExpiry })).toEqual({ action: 'hold' });
      expect(stepFreeze(reading({ policy: p, budgetRemaining: 0.0501 }), undefined, { nowMs: expiredAt + 4 * HOUR - 1, lastExpiry })).toEqual({ action: 'hold' });
    });

    it('re-freezes within the cool-down when the condition worsens: a page fires, or the budget falls 5 points', () => {
      const lastExpiry = { expiredAt: active.until, budgetRemaining: 0.1, triggers: ['budget' as const] };
      const paged = stepFreeze(reading({ policy: p, budgetRemaining: 0.1, page: 'firing' }), undefined, { nowMs: expiredAt + 60_000, lastExpiry });
      expect(paged).toEqual({ action: 'freeze', blocks: 'high', reasons: ['a page-severity burn alert is firing'] });
      const lower = stepFreeze(reading({ policy: p, budgetRemaining: 0.05 }), undefined, { nowMs: expiredAt + 60_000, lastExpiry });
      expect(lower).toMatchObject({ action: 'freeze', blocks: 'high' });
      expect(lower.action === 'freeze' && lower.reasons[0]).toContain('fell to or below 5%');
    });

    it('applies the policy as usual once the cool-down is over, or without a mark', () => {
      const lastExpiry = { expiredAt: active.until, budgetRemaining: 0.1, triggers: ['budget' as const] };
      expect(stepFreeze(reading({ policy: p, budgetRemaining: 0.1 }), undefined, { nowMs: expiredAt + 4 * HOUR, lastExpiry })).toMatchObject({ action: 'freeze' });
      expect(stepFreeze(reading({ policy: p, budgetRemaining: 0.1 }), undefined, { nowMs: expiredAt + 60_000 })).toMatchObject({ action: 'freeze' });
    });

    it('a freeze without until never expires', () => {
      expect(stepFreeze(reading({ policy: p, budgetRemaining: 0.1 }), { blocks: 'high', until: null }, { nowMs: expiredAt * 2 })).toEqual({ action: 'hold' });
    });
  });
});

const freeze = (over: Partial<Freeze> = {}): Freeze => ({
  id: 'frz_1',
  kind: 'auto',
  services: ['checkout'],
  slo: 'checkout-availability',
  blocks: 'high',
  reason: 'budget remaining 20% is at or below 25%',
  evidence: {},
  createdBy: 'error-budget-policy',
  createdAt: '2026-01-05T00:00:00.000Z',
  until: null,
  ...over,
});
const now = Date.parse('2026-01-05T01:00:00.000Z');
const budgets = new Map([['checkout-availability', reading({ budgetRemaining: 0.2, currentBurn: 3.5 })]]);

describe('gate answers', () => {
  it('a freeze blocks high risk with reasons naming the SLO, its budget, burn and link; low risk passes', () => {
    const state = { freezes: [freeze()], overrides: [], budgets };
    const high = decide(state, { service: 'checkout', risk: 'high', changeId: 'c1', nowMs: now });
    expect(high).toMatchObject({ allowed: false, change: 'c1', until: null });
    expect(high.reasons[0]).toMatchObject({ slo: 'checkout-availability', budgetRemaining: 0.2, burnRate: 3.5, link: '/v1/slos/checkout-availability' });
    expect(decide(state, { service: 'checkout', risk: 'low', changeId: undefined, nowMs: now }).allowed).toBe(true);
    expect(decide(state, { service: 'payments', risk: 'high', changeId: undefined, nowMs: now }).allowed).toBe(true);
  });

  it("blocks='all' blocks low risk too; '*' covers every service; expired freezes block nothing", () => {
    const all = { freezes: [freeze({ blocks: 'all' })], overrides: [], budgets };
    expect(decide(all, { service: 'checkout', risk: 'low', changeId: undefined, nowMs: now }).allowed).toBe(false);
    const holiday = freeze({ id: 'frz_2', kind: 'manual', slo: null, services: ['*'], until: '2026-01-05T02:00:00.000Z' });
    const state = { freezes: [holiday], overrides: [], budgets };
    const answer = decide(state, { service: 'anything', risk: 'high', changeId: undefined, nowMs: now });
    expect(answer).toMatchObject({ allowed: false, until: '2026-01-05T02:00:00.000Z' });
    expect(decide(state, { service: 'anything', risk: 'high', changeId: undefined, nowMs: Date.parse(holiday.until!) }).allowed).toBe(true);
  });

  it('an override with two approvals lets only its change through, until it expires', () => {
    const o: Override = {
      id: 'ovr_1',
      service: 'checkout',
      changeId: 'c1',
      reason: 'hotfix',
      requestedBy: 'alice',
      approvers: ['bob', 'carol'],
      requesterAliases: ['alice'],
      approverAliases: [['bob'], ['carol']],
      createdAt: '2026-01-05T00:00:00.000Z',
      until: '2026-01-05T03:00:00.000Z',
    };
    const state = { freezes: [freeze()], overrides: [o], budgets };
    const ask = (changeId: string | undefined, nowMs = now) => decide(state, { service: 'checkout', risk: 'high', changeId, nowMs });
    expect(ask('c1')).toMatchObject({ allowed: true, override: { id: 'ovr_1' } });
    expect(ask('c2').allowed).toBe(false);
    expect(ask(undefined).allowed).toBe(false);
    expect(ask('c1', Date.parse(o.until)).allowed).toBe(false);
    const half = { ...state, overrides: [{ ...o, approvers: ['bob'] }] };
    expect(decide(half, { service: 'checkout', risk: 'high', changeId: 'c1', nowMs: now }).allowed).toBe(false);
  });
});

describe('four-eyes', () => {
  const o: Override = {
    id: 'ovr_1',
    service: 'checkout',
    changeId: null,
    reason: 'hotfix',
    requestedBy: 'alice',
    approvers: [],
    requesterAliases: ['alice'],
    approverAliases: [],
    createdAt: '2026-01-05T00:00:00.000Z',
    until: '2026-01-05T03:00:00.000Z',
  };
  const token = (name: string) => ({ name, aliases: [name] });
  it('refuses the requester, a repeated approver and an expired override', () => {
    expect(approve(o, token('alice'), now)).toMatchObject({ ok: false, code: 'forbidden' });
    const bobApproved = { ...o, approvers: ['bob'], approverAliases: [['bob']] };
    expect(approve(bobApproved, token('bob'), now)).toMatchObject({ ok: false, code: 'conflict' });
    expect(approve(o, token('bob'), Date.parse(o.until))).toMatchObject({ ok: false, code: 'conflict' });
    expect(approve(o, token('bob'), now)).toEqual({ ok: true, approvers: ['bob'], approverAliases: [['bob']], complete: false });
    expect(approve(bobApproved, token('carol'), now)).toEqual({
      ok: true,
      approvers: ['bob', 'carol'],
      approverAliases: [['bob'], ['carol']],
      complete: true,
    });
  });

  it('compares people by any shared alias, case-insensitively, not by the name they acted under', () => {
    const slackAlice = { name: 'slack:U0ALICE', aliases: ['slack:U0ALICE', 'U0ALICE', 'Alice@Example.com'] };
    const viaSlack = { ...o, requestedBy: slackAlice.name, requesterAliases: slackAlice.aliases };
    expect(approve(viaSlack, token('alice@example.com'), now)).toMatchObject({ ok: false, code: 'forbidden' });
    expect(approve(o, { ...slackAlice, aliases: [...slackAlice.aliases, 'ALICE'] }, now)).toMatchObject({ ok: false, code: 'forbidden' });
    const approvedInSlack = { ...o, approvers: [slackAlice.name], approverAliases: [slackAlice.aliases] };
    expect(approve({ ...approvedInSlack, requestedBy: 'bob', requesterAliases: ['bob'] }, token('ALICE@example.com'), now)).toMatchObject({
      ok: false,
      code: 'conflict',
    });
    expect(approve(viaSlack, token('carol'), now)).toMatchObject({ ok: true, approvers: ['carol'] });
  });
});

describe('until', () => {
  it('takes a duration or a future RFC 3339 time, and says what to write otherwise', () => {
    expect(parseUntil('2h', now)).toEqual({ ok: true, at: new Date(now + 7_200_000) });
    expect(parseUntil('2026-01-06T00:00:00Z', now)).toEqual({ ok: true, at: new Date('2026-01-06T00:00:00Z') });
    expect(parseUntil('2026-01-01T00:00:00Z', now)).toMatchObject({ ok: false, message: expect.stringContaining('past') });
    expect(parseUntil('tomorrow', now)).toMatchObject({ ok: false, message: expect.stringContaining('duration') });
    // A year at most: 99999d would be a freeze until the year 2300 (and past 9999 an unstorable time).
    expect(parseUntil('366d', now)).toEqual({ ok: true, at: new Date(now + 366 * 86_400_000) });
    for (const far of ['367d', '99999d', '9999999w', '2300-01-01T00:00:00Z'])
      expect(parseUntil(far, now), far).toMatchObject({ ok: false, message: expect.stringContaining('at most 366 days') });
  });
});
