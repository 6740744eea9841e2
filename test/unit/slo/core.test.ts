import { describe, expect, it } from 'vitest';
import { instantOf, periodMs, windowBounds } from '../../../src/slo/core/calendar.js';
import type { SyntheticScript } from '../../../src/slo/core/model.js';
import { combinedQuery, promRange, renderWindow, windowExpressions } from '../../../src/slo/core/promql.js';
import { syntheticCounts, syntheticRatioAt } from '../../../src/slo/core/synthetic.js';

const M = 60_000;

describe('calendar windows', () => {
  it('a calendar month in Europe/Berlin starts at local midnight on the 1st', () => {
    const w = { kind: 'calendar', unit: 'M', count: 1, timeZone: 'Europe/Berlin' } as const;
    const b = windowBounds(w, Date.parse('2026-03-15T12:00:00Z'));
    expect(new Date(b.startMs).toISOString()).toBe('2026-02-28T23:00:00.000Z');
    // March has the DST change: 31 days minus one hour.
    expect(new Date(b.endMs).toISOString()).toBe('2026-03-31T22:00:00.000Z');
    expect(periodMs(w, Date.parse('2026-03-15T12:00:00Z'))).toBe(31 * 86_400_000 - 3_600_000);
  });

  it('weeks start on Monday; an OpenSLO startTime anchors the windows in its time zone', () => {
    const week = windowBounds({ kind: 'calendar', unit: 'w', count: 1, timeZone: 'UTC' }, Date.parse('2026-03-05T10:00:00Z'));
    expect(new Date(week.startMs).toISOString()).toBe('2026-03-02T00:00:00.000Z');
    const anchored = windowBounds(
      { kind: 'calendar', unit: 'w', count: 1, timeZone: 'America/New_York', anchor: '2022-01-01 12:00:00' },
      Date.parse('2026-03-05T10:00:00Z'),
    );
    // 2022-01-01 was a Saturday; windows run Saturday noon to Saturday noon, New York time.
    expect(new Date(anchored.startMs).toISOString()).toBe('2026-02-28T17:00:00.000Z');
    expect(instantOf({ y: 2026, mo: 7, d: 1, h: 12, mi: 0, s: 0 }, 'America/New_York')).toBe(Date.parse('2026-07-01T16:00:00Z'));
  });

  it('a rolling window ends now', () => {
    expect(windowBounds({ kind: 'rolling', ms: 1000 }, 5000)).toEqual({ startMs: 4000, endMs: 5000 });
  });
});

describe('synthetic source', () => {
  const script: SyntheticScript = {
    requestsPerSecond: 10,
    anchor: 'epoch',
    repeatMs: 60 * M,
    phases: [
      { atMs: 0, errorRatio: 0.001 },
      { atMs: 50 * M, errorRatio: 0.1 },
    ],
  };

  it('is a deterministic function of the clock', () => {
    expect(syntheticRatioAt(script, 0, 49 * M)).toBe(0.001);
    expect(syntheticRatioAt(script, 0, 50 * M)).toBe(0.1);
    expect(syntheticRatioAt(script, 0, 61 * M)).toBe(0.001);
    expect(syntheticRatioAt(script, 0, -5 * M)).toBe(0.1);
  });

  it('integrates the script exactly over any window', () => {
    const hour = syntheticCounts(script, 0, 0, 60 * M);
    expect(hour.total).toBe(36_000);
    expect(hour.errors).toBeCloseTo(50 * 60 * 10 * 0.001 + 10 * 60 * 10 * 0.1, 9);
    const straddling = syntheticCounts(script, 0, 55 * M, 65 * M);
    expect(straddling.errors).toBeCloseTo(5 * 600 * 0.1 + 5 * 600 * 0.001, 9);
    expect(syntheticCounts(script, 0, 10, 10)).toEqual({ errors: 0, total: 0 });
  });
});

describe('PromQL generation', () => {
  const events = {
    kind: 'events',
    source: 'prometheus',
    errorQuery: 'sum(rate(e[{{window}}]))',
    totalQuery: 'sum(rate(t[{{ .window }}]))',
  } as const;

  it('renders both {{window}} and Sloth’s {{.window}}', () => {
    expect(renderWindow('rate(a[{{window}}]) / rate(b[{{.window}}])', '5m')).toBe('rate(a[5m]) / rate(b[5m])');
    expect(promRange(28 * 86_400_000)).toBe('4w');
    expect(promRange(123_456)).toBe('123s');
  });

  it('one query tags every window’s parts', () => {
    const q = combinedQuery(events, { method: 'occurrences' }, [5 * M, 60 * M]);
    expect(q).toBe(
      'label_replace((sum(sum(rate(e[5m]))) or (sum(sum(rate(t[5m]))) * 0)), "quench", "5m:errors", "", "") or label_replace(sum(sum(rate(t[5m]))), "quench", "5m:total", "", "") or ' +
        'label_replace((sum(sum(rate(e[1h]))) or (sum(sum(rate(t[1h]))) * 0)), "quench", "1h:errors", "", "") or label_replace(sum(sum(rate(t[1h]))), "quench", "1h:total", "", "")',
    );
  });

  it('time slices: bad slices over every slice of the window; an error series not born yet is 0; an empty slice is absent, never NaN', () => {
    const { parts } = windowExpressions(events, { method: 'timeslices', sliceMs: M, sliceTarget: 0.95 }, 60 * M);
    const slice = '((sum(sum(rate(e[1m]))) or (sum(sum(rate(t[1m]))) * 0)) / (sum(sum(rate(t[1m]))) > 0))';
    // One millisecond short of the hour: exactly 60 one-minute slices on Prometheus 2 and 3 alike.
    expect(parts.total).toBe('count_over_time(vector(1)[3599999ms:1m])');
    expect(parts.slices).toBe(`count_over_time(${slice}[3599999ms:1m])`);
    expect(parts.errors).toBe(`sum_over_time((${slice} > bool 0.05)[3599999ms:1m])`);
    // The guard reads requests, not slices.
    expect(parts.requests).toBe('sum(sum(rate(t[1h])))');
    const ratio = windowExpressions(events, { method: 'ratioTimeslices', sliceMs: M }, 60 * M);
    expect(ratio.parts.errors).toBe(`sum_over_time(${slice}[3599999ms:1m])`);
  });

  it('threshold metrics count samples that meet the objective', () => {
    const { parts } = windowExpressions(
      { kind: 'threshold', source: 'prometheus', query: 'p99_latency', op: 'lt', value: 0.5 },
      { method: 'occurrences' },
      60 * M,
    );
    expect(parts.errors).toBe(
      '(count_over_time(avg(p99_latency)[3599999ms:1m]) - sum_over_time((avg(p99_latency) < bool 0.5)[3599999ms:1m]))',
    );
  });
});

describe('calendar edge cases (issue 11, point 10)', () => {
  it('a local midnight that does not exist starts the day at its first instant, west of UTC too', () => {
    // Santiago: clocks jump from 00:00 to 01:00 on 2026-09-06 (UTC−4 → UTC−3).
    expect(new Date(instantOf({ y: 2026, mo: 9, d: 6, h: 0, mi: 0, s: 0 }, 'America/Santiago')).toISOString()).toBe('2026-09-06T04:00:00.000Z');
    // São Paulo, 2018-11-04 (UTC−3 → UTC−2).
    expect(new Date(instantOf({ y: 2018, mo: 11, d: 4, h: 0, mi: 0, s: 0 }, 'America/Sao_Paulo')).toISOString()).toBe('2018-11-04T03:00:00.000Z');
    const day = windowBounds({ kind: 'calendar', unit: 'd', count: 1, timeZone: 'America/Santiago' }, Date.parse('2026-09-06T12:00:00Z'));
    expect(new Date(day.startMs).toISOString()).toBe('2026-09-06T04:00:00.000Z');
    expect(new Date(day.endMs).toISOString()).toBe('2026-09-07T03:00:00.000Z');
    // A repeated hour is its first occurrence (Berlin, 2026-10-25 02:30 happens twice).
    expect(new Date(instantOf({ y: 2026, mo: 10, d: 25, h: 2, mi: 30, s: 0 }, 'Europe/Berlin')).toISOString()).toBe('2026-10-25T00:30:00.000Z');
  });

  it('an anchor on the 31st falls on the last day of shorter months', () => {
    const w = { kind: 'calendar', unit: 'M', count: 1, timeZone: 'UTC', anchor: '2026-01-31 00:00:00' } as const;
    const feb = windowBounds(w, Date.parse('2026-02-15T00:00:00Z'));
    expect(new Date(feb.startMs).toISOString()).toBe('2026-01-31T00:00:00.000Z');
    expect(new Date(feb.endMs).toISOString()).toBe('2026-02-28T00:00:00.000Z');
    const mar = windowBounds(w, Date.parse('2026-03-10T00:00:00Z'));
    expect(new Date(mar.startMs).toISOString()).toBe('2026-02-28T00:00:00.000Z');
    expect(new Date(mar.endMs).toISOString()).toBe('2026-03-31T00:00:00.000Z');
  });
});
