import { describe, expect, it } from 'vitest';
import { compareQueued, pickMember } from '../../../src/chat/core/assignment.js';
import { applyApprovalPolicy, defaultApprovalPolicy, sampled } from '../../../src/chat/core/auto-approval.js';
import { dueSlaEvents, nextSlaEvent } from '../../../src/chat/core/sla.js';

describe('confidence × impact policy', () => {
  const run = (confidence: number | undefined, impact: 'low' | 'medium' | 'high' | undefined, risk: 'low' | 'high' = 'low') =>
    applyApprovalPolicy(defaultApprovalPolicy, { stepId: 's1', risk, confidence, impact }).outcome;

  it('maps each cell to auto, human or block', () => {
    expect(run(0.95, 'low')).toBe('auto');
    expect(run(0.7, 'low')).toBe('human');
    expect(run(0.95, 'high')).toBe('human');
    expect(run(0.1, 'high')).toBe('block');
    expect(run(undefined, 'low')).toBe('human');
  });

  it('never auto-approves a risk: high step', () => {
    expect(run(0.99, 'low', 'high')).toBe('human');
  });

  it('samples about the configured share of auto-approvals, reproducibly', () => {
    const ids = Array.from({ length: 4000 }, (_, i) => `step-${i}`);
    const share = ids.filter((id) => sampled(id, 0.1)).length / ids.length;
    expect(share).toBeGreaterThan(0.08);
    expect(share).toBeLessThan(0.12);
    expect(ids.filter((id) => sampled(id, 0.1))).toEqual(ids.filter((id) => sampled(id, 0.1)));
    expect(sampled('x', 0)).toBe(false);
    expect(sampled('x', 1)).toBe(true);
  });
});

describe('group assignment', () => {
  const members = ['UA', 'UB', 'UC'];
  it('rotates round-robin and skips people at their WIP limit', () => {
    const load = new Map([['UB', 2]]);
    expect(pickMember({ members, strategy: 'round-robin', wipLimit: 2, load, cursor: 0 })).toEqual({ member: 'UA', cursor: 1 });
    expect(pickMember({ members, strategy: 'round-robin', wipLimit: 2, load, cursor: 1 })).toEqual({ member: 'UC', cursor: 3 });
    expect(pickMember({ members, strategy: 'round-robin', wipLimit: 2, load, cursor: 3 })).toEqual({ member: 'UA', cursor: 1 });
  });

  it('picks the least loaded, ties in rotation order, and nobody when all are full', () => {
    const load = new Map([
      ['UA', 2],
      ['UB', 1],
      ['UC', 1],
    ]);
    expect(pickMember({ members, strategy: 'least-loaded', wipLimit: 3, load, cursor: 2 })?.member).toBe('UC');
    expect(pickMember({ members, strategy: 'least-loaded', wipLimit: 3, load, cursor: 0 })?.member).toBe('UB');
    expect(
      pickMember({ members, strategy: 'least-loaded', wipLimit: 1, load: new Map(members.map((m) => [m, 1])), cursor: 0 }),
    ).toBeUndefined();
  });

  it('orders the queue by severity, then first in first out', () => {
    const t = (s: number) => new Date(1_000_000 + s * 1000);
    const queue = [
      { stepId: 'a', severity: 'warning', queuedAt: t(1) },
      { stepId: 'b', severity: 'critical', queuedAt: t(3) },
      { stepId: 'c', severity: undefined, queuedAt: t(0) },
      { stepId: 'd', severity: 'critical', queuedAt: t(2) },
    ];
    expect([...queue].sort(compareQueued).map((q) => q.stepId)).toEqual(['d', 'b', 'a', 'c']);
  });
});

describe('SLA clock', () => {
  const offeredAt = new Date('2026-01-05T10:00:00Z');
  const clock = { offeredAt, withinMs: 600_000, remindAt: 0.5, reminded: false, escalated: false };
  it('reminds at the fraction, escalates at the end, then nothing', () => {
    expect(nextSlaEvent(clock)).toEqual({ kind: 'remind', at: new Date('2026-01-05T10:05:00Z') });
    expect(nextSlaEvent({ ...clock, reminded: true })).toEqual({ kind: 'escalate', at: new Date('2026-01-05T10:10:00Z') });
    expect(nextSlaEvent({ ...clock, reminded: true, escalated: true })).toBeUndefined();
  });

  it('after a restart past both deadlines, reminds before it escalates', () => {
    expect(dueSlaEvents(clock, new Date('2026-01-05T10:04:59Z'))).toEqual([]);
    expect(dueSlaEvents(clock, new Date('2026-01-05T10:05:00Z'))).toEqual(['remind']);
    expect(dueSlaEvents(clock, new Date('2026-01-05T11:00:00Z'))).toEqual(['remind', 'escalate']);
  });
});
