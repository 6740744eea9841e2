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
      'label_replace(sum(sum(rate(e[5m]))), "quench", "5m:errors", "", "") or label_replace(sum(sum(rate(t[5m]))), "quench", "5m:total", "", "") or ' +
        'label_replace(sum(sum(rate(e[1h]))), "quench", "1h:errors", "", "") or label_replace(sum(sum(rate(t[1h]))), "quench", "1h:total", "", "")',
    );
  });

  it('time slices count bad slices against the slice target', () => {
    const { parts } = windowExpressions(events, { method: 'timeslices', sliceMs: M, sliceTarget: 0.95 }, 60 * M);
    expect(parts.total).toBe('count_over_time((sum(sum(rate(e[1m]))) / sum(sum(rate(t[1m]))))[1h:1m])');
    expect(parts.errors).toBe('sum_over_time(((sum(sum(rate(e[1m]))) / sum(sum(rate(t[1m])))) > bool 0.05)[1h:1m])');
    const ratio = windowExpressions(events, { method: 'ratioTimeslices', sliceMs: M }, 60 * M);
    expect(ratio.parts.errors).toBe('sum_over_time((sum(sum(rate(e[1m]))) / sum(sum(rate(t[1m]))))[1h:1m])');
  });

  it('threshold metrics count samples that meet the objective', () => {
    const { parts } = windowExpressions(
      { kind: 'threshold', source: 'prometheus', query: 'p99_latency', op: 'lt', value: 0.5 },
      { method: 'occurrences' },
      60 * M,
    );
    expect(parts.errors).toBe('(count_over_time(avg(p99_latency)[1h:1m]) - sum_over_time((avg(p99_latency) < bool 0.5)[1h:1m]))');
  });
});
