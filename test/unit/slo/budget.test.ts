import { describe, expect, it } from 'vitest';
import {
  attainment,
  budgetMinutes,
  budgetRemaining,
  burnFactor,
  burnRate,
  consumedBy,
  enoughTraffic,
  errorRatio,
  timeToExhaustionMs,
} from '../../../src/slo/core/budget.js';
import { parseDuration } from '../../../src/slo/core/duration.js';
import { catalogWindows } from '../../../src/slo/core/windows.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

describe('budget maths: the SRE workbook figures', () => {
  it('the 30-day catalog is the workbook: 14.4, 6, 3 and 1', () => {
    const w = catalogWindows({ kind: 'rolling', ms: 30 * DAY })!;
    expect(w.map((x) => x.factor)).toEqual([14.4, 6, 3, 1]);
    expect(w.map((x) => [x.severity, x.longMs / 60_000, x.shortMs / 60_000])).toEqual([
      ['page', 60, 5],
      ['page', 360, 30],
      ['ticket', 1440, 120],
      ['ticket', 4320, 360],
    ]);
  });

  it('each common period has its own catalog; other periods have none (issue 11, point 5)', () => {
    const factors = (w: Parameters<typeof catalogWindows>[0]) => catalogWindows(w)?.map((x) => Math.round(x.factor * 1000) / 1000);
    expect(factors({ kind: 'rolling', ms: 28 * DAY })).toEqual([13.44, 5.6, 2.8, 0.933]);
    // Sloth's 7-day catalog, not the 30-day factors stretched by budget share (3.36/1.4/0.7/0.233).
    expect(factors({ kind: 'rolling', ms: 7 * DAY })).toEqual([13.44, 3.5, 1.4, 0.98]);
    expect(factors({ kind: 'rolling', ms: 14 * DAY })).toEqual([13.44, 5.6, 2.8, 0.933]);
    expect(factors({ kind: 'calendar', unit: 'w', count: 1, timeZone: 'UTC' })).toEqual([13.44, 3.5, 1.4, 0.98]);
    expect(factors({ kind: 'calendar', unit: 'M', count: 1, timeZone: 'UTC' })).toEqual([14.4, 6, 3, 1]);
    expect(factors({ kind: 'calendar', unit: 'Q', count: 1, timeZone: 'UTC' })).toEqual([14.4, 6, 3, 1]);
    expect(factors({ kind: 'rolling', ms: 3 * DAY })).toBeUndefined();
    expect(factors({ kind: 'calendar', unit: 'Y', count: 1, timeZone: 'UTC' })).toBeUndefined();
  });

  it('14.4x over 1h consumes 2% of a 30-day budget', () => {
    expect(consumedBy(14.4, HOUR, 30 * DAY)).toBeCloseTo(0.02, 12);
    expect(burnFactor(0.02, 30 * DAY, HOUR)).toBeCloseTo(14.4, 12);
  });

  it('1,000x exhausts a 99.9% / 30-day budget in about 43 minutes', () => {
    const ms = timeToExhaustionMs(1, 1000, 30 * DAY)!;
    expect(ms / 60_000).toBeCloseTo(43.2, 6);
    // 100% errors against 99.9% is a burn of 1000.
    expect(burnRate(1, 0.999)).toBeCloseTo(1000, 6);
    expect(budgetMinutes(0.999, 30 * DAY)).toBeCloseTo(43.2, 9);
  });

  it('computes error ratio, attainment, burn rate and remaining budget', () => {
    const r = errorRatio({ errors: 5, total: 1000 });
    expect(r).toBe(0.005);
    expect(attainment(r)).toBeCloseTo(0.995, 12);
    expect(burnRate(r, 0.99)).toBeCloseTo(0.5, 12);
    expect(budgetRemaining(r, 0.99)).toBeCloseTo(0.5, 12);
    // Overspent budgets go negative (reports show it), they are not clamped to 0.
    expect(budgetRemaining(0.02, 0.99)).toBeCloseTo(-1, 12);
    expect(timeToExhaustionMs(-1, 2, 30 * DAY)).toBe(0);
    expect(timeToExhaustionMs(0.5, 0, 30 * DAY)).toBeNull();
  });
});

describe('no traffic is no data', () => {
  it('0/0 is null all the way through, never NaN', () => {
    const r = errorRatio({ errors: 0, total: 0 });
    expect(r).toBeNull();
    expect(attainment(r)).toBeNull();
    expect(burnRate(r, 0.999)).toBeNull();
    expect(budgetRemaining(r, 0.999)).toBeNull();
    expect(timeToExhaustionMs(budgetRemaining(r, 0.999), burnRate(r, 0.999), 30 * DAY)).toBeNull();
    expect(errorRatio({ errors: Number.NaN, total: 10 })).toBeNull();
    expect(errorRatio({ errors: 1, total: Number.POSITIVE_INFINITY })).toBeNull();
  });

  it('clamps counter-reset artefacts to a ratio in [0, 1]', () => {
    expect(errorRatio({ errors: 10.2, total: 10 })).toBe(1);
    expect(errorRatio({ errors: -0.1, total: 10 })).toBe(0);
  });

  it('calendar windows spend the errors so far against the whole period (issue 11, point 3)', () => {
    // 30 s into a 31-day month at 2% errors with a 99.9% objective: 20× burn for 30 s.
    const share = 30_000 / (31 * DAY);
    expect(budgetRemaining(0.02, 0.999, share)).toBeCloseTo(1 - 20 * share, 12);
    expect(budgetRemaining(0.02, 0.999, share)! * budgetMinutes(0.999, 31 * DAY)).toBeCloseTo(44.64 - 0.01, 9);
    // A rolling window is always whole.
    expect(budgetRemaining(0.02, 0.999)).toBeCloseTo(-19, 9);
  });

  it('the low-traffic guard needs the minimum number of requests', () => {
    expect(enoughTraffic(2, 10)).toBe(false);
    expect(enoughTraffic(10, 10)).toBe(true);
    expect(enoughTraffic(0, 0)).toBe(false);
    expect(enoughTraffic(undefined, 0)).toBe(false);
  });
});

describe('durations', () => {
  it('reads Prometheus and OpenSLO shorthand', () => {
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('4w')).toBe(28 * DAY);
    expect(parseDuration('1M')).toBe(30 * DAY);
    expect(parseDuration('1Q')).toBe(90 * DAY);
    expect(parseDuration('')).toBeUndefined();
    expect(parseDuration('5 minutes')).toBeUndefined();
    expect(parseDuration('0s')).toBeUndefined();
  });
});
