import { describe, expect, it } from 'vitest';
import { type AlertState, breachingWindows, initialAlertState, judgeWindows, stepAlert, stepSlo } from '../../../src/slo/core/alerts.js';
import type { Alerting } from '../../../src/slo/core/model.js';
import { catalogWindows } from '../../../src/slo/core/windows.js';

const M = 60_000;
const H = 60 * M;

function alerting(minEvents = 10): Alerting {
  return {
    windows: catalogWindows({ kind: 'rolling', ms: 30 * 24 * H })!,
    minEvents,
    tiers: {
      page: { severity: 'page', enabled: true, forMs: 2 * M },
      ticket: { severity: 'ticket', enabled: true, forMs: 0 },
    },
  };
}

const reading = (burn: number | null, requests = 1000) => ({ burn, requests });

describe('breaching windows', () => {
  it('fires only when both the long and the short window burn above the factor', () => {
    const both = new Map([
      [H, reading(20)],
      [5 * M, reading(20)],
    ]);
    expect(breachingWindows(alerting(), both).map((w) => w.longMs)).toEqual([H]);
    const longOnly = new Map([
      [H, reading(20)],
      [5 * M, reading(2)],
    ]);
    expect(breachingWindows(alerting(), longOnly)).toEqual([]);
    const atFactor = new Map([
      [H, reading(14.4)],
      [5 * M, reading(100)],
    ]);
    expect(breachingWindows(alerting(), atFactor)).toEqual([]);
  });

  it('the low-traffic guard and missing data keep a window quiet', () => {
    const fewEvents = new Map([
      [H, reading(1000, 2)],
      [5 * M, reading(1000, 2)],
    ]);
    expect(breachingWindows(alerting(10), fewEvents)).toEqual([]);
    expect(breachingWindows(alerting(0), fewEvents)).toHaveLength(1);
    const noData = new Map([
      [H, reading(null, 0)],
      [5 * M, reading(null, 0)],
    ]);
    expect(breachingWindows(alerting(0), noData)).toEqual([]);
    // Raw-ratio and threshold SLIs have no request volume: the guard cannot apply, the burn decides.
    const raw = new Map([
      [H, { burn: 20 }],
      [5 * M, { burn: 20 }],
    ]);
    expect(breachingWindows(alerting(10), raw)).toHaveLength(1);
  });
});

describe('alert state machine', () => {
  it('goes inactive → pending → firing → resolved → pending', () => {
    let s: AlertState = initialAlertState(0);
    const steps: string[] = [];
    const go = (breaching: boolean, nowMs: number) => {
      const r = stepAlert(s, { breaching, nowMs, forMs: 2 * M });
      s = r.state;
      if (r.changed) steps.push(`${r.changed.from}->${r.changed.to}@${nowMs / M}`);
    };
    go(false, 0);
    go(true, 1 * M);
    go(true, 2 * M);
    go(true, 3 * M);
    go(true, 4 * M);
    go(false, 5 * M);
    go(false, 6 * M);
    go(true, 7 * M);
    expect(steps).toEqual(['inactive->pending@1', 'pending->firing@3', 'firing->resolved@5', 'resolved->pending@7']);
  });

  it('a pending alert that clears before `for` never fires', () => {
    let r = stepAlert(initialAlertState(0), { breaching: true, nowMs: M, forMs: 5 * M });
    r = stepAlert(r.state, { breaching: false, nowMs: 2 * M, forMs: 5 * M });
    expect(r.changed).toEqual({ from: 'pending', to: 'inactive' });
  });

  it('fires on the evaluation one `for` later even when that evaluation ran milliseconds early', () => {
    // Seen in the demo: pending at 10:00:00.015, next evaluation at 10:01:00.013 (59.998 s later).
    const pending = stepAlert(initialAlertState(0), { breaching: true, nowMs: 15, forMs: M }).state;
    expect(pending.status).toBe('pending');
    expect(stepAlert(pending, { breaching: true, nowMs: M + 13, forMs: M }).state.status).toBe('firing');
    // …but not a real cycle early: half of `for` is still pending.
    expect(stepAlert(pending, { breaching: true, nowMs: M / 2, forMs: M }).state.status).toBe('pending');
    expect(stepAlert(pending, { breaching: true, nowMs: M - 10_000, forMs: M }).state.status).toBe('pending');
  });

  it('with for: 0 it fires on the first breaching evaluation', () => {
    expect(stepAlert(initialAlertState(0), { breaching: true, nowMs: M, forMs: 0 }).state.status).toBe('firing');
  });

  it('OpenSLO op: gte fires at the factor itself (issue 11, point 11)', () => {
    const gte: Alerting = { ...alerting(), windows: [{ severity: 'page', longMs: H, shortMs: 5 * M, factor: 14.4, op: 'gte' }] };
    const atFactor = new Map([
      [H, reading(14.4)],
      [5 * M, reading(14.4)],
    ]);
    expect(breachingWindows(gte, atFactor)).toHaveLength(1);
    expect(breachingWindows(alerting(), atFactor)).toEqual([]);
  });

  it('a window set without data is undecided, not clear (issue 11, point 7)', () => {
    const vanished = new Map([
      [H, reading(500)],
      [5 * M, reading(null, 0)],
    ]);
    const judged = judgeWindows(alerting(), vanished);
    expect(judged.breaching).toEqual([]);
    expect(judged.noData.map((w) => w.longMs)).toEqual([H, 6 * H, 24 * H, 72 * H]);
  });

  it('no data holds a firing page and a pending alert instead of resolving them (issue 11, point 7)', () => {
    const firing = { status: 'firing', sinceMs: 0 } as const;
    expect(stepAlert(firing, { breaching: false, noData: true, nowMs: M, forMs: 0 }).state).toEqual(firing);
    const pending = { status: 'pending', sinceMs: 0 } as const;
    expect(stepAlert(pending, { breaching: false, noData: true, nowMs: 10 * M, forMs: 2 * M }).state).toEqual(pending);
    // Data back and clear: it resolves then.
    expect(stepAlert(firing, { breaching: false, nowMs: 2 * M, forMs: 0 }).state.status).toBe('resolved');
    // Another set breaching still decides.
    expect(stepAlert(pending, { breaching: true, noData: true, nowMs: 10 * M, forMs: 2 * M }).state.status).toBe('firing');
  });

  it('a ticket pending while the page fires keeps its start and fires once the page resolves (issue 11, point 11)', () => {
    const for15 = { page: 2 * M, ticket: 15 * M };
    const on = { page: true, ticket: true };
    let states = { page: { status: 'firing', sinceMs: 0 } as AlertState, ticket: { status: 'pending', sinceMs: 0 } as AlertState };
    const step = (page: boolean, at: number) => {
      const r = stepSlo(states, { page, ticket: true }, for15, on, at);
      states = { page: r.page.state, ticket: r.ticket.state };
    };
    step(true, 20 * M);
    expect(states.ticket).toEqual({ status: 'pending', sinceMs: 0 });
    step(false, 21 * M);
    expect(states.page.status).toBe('resolved');
    expect(states.ticket.status).toBe('firing');
  });

  it('a firing page suppresses the ticket of the same SLO', () => {
    const firing = { status: 'firing', sinceMs: 0 } as const;
    const r = stepSlo(
      { page: firing, ticket: initialAlertState(0) },
      { page: true, ticket: true },
      { page: 0, ticket: 0 },
      { page: true, ticket: true },
      M,
    );
    expect(r.page.state.status).toBe('firing');
    // The ticket may wait (pending), never fire, while the page fires.
    expect(r.ticket.state.status).toBe('pending');
    // Once the page resolves, a slow burn that continues may open the ticket.
    const after = stepSlo(
      { page: r.page.state, ticket: r.ticket.state },
      { page: false, ticket: true },
      { page: 0, ticket: 0 },
      { page: true, ticket: true },
      2 * M,
    );
    expect(after.page.state.status).toBe('resolved');
    expect(after.ticket.state.status).toBe('firing');
  });

  it('a disabled tier never fires', () => {
    const r = stepSlo(
      { page: initialAlertState(0), ticket: initialAlertState(0) },
      { page: true, ticket: true },
      { page: 0, ticket: 0 },
      { page: false, ticket: true },
      M,
    );
    expect(r.page.state.status).toBe('inactive');
    expect(r.ticket.state.status).toBe('firing');
  });
});
