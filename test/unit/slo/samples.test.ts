import { describe, expect, it } from 'vitest';
import { parseYamlSource } from '../../../src/definitions/source.js';
import { DEFAULT_MIN_SAMPLE_MS, minSampleMs, rowCounts, type SampleCursor, samplePlan } from '../../../src/slo/core/samples.js';
import { importSlos } from '../../../src/slo/definitions.js';
import { promRate, type Series } from '../../support/slo-model.js';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const FROM = Date.UTC(2026, 10, 1, 10);
const TO = FROM + 2 * H;

/** Errors of 20 requests/s, scraped every 60 s 7 s off the minute: 2%, but 40% from 30 to 40 minutes in. */
function errorCounter(): Series {
  const s: Series = { labels: {}, t: [], v: [] };
  let c = 0;
  for (let t = FROM - H + 7 * S, prev = t; t <= TO + H; prev = t, t += M) {
    c += (20 * (t - prev) * (prev >= FROM + 30 * M && prev < FROM + 40 * M ? 0.4 : 0.02)) / 1000;
    s.t.push(t);
    s.v.push(c);
  }
  return s;
}

/** Prometheus' increase over (now − ms, now], as `rate × seconds` (undefined rate: no events read). */
const increase = (s: Series, nowMs: number, ms: number) => ((promRate(s, nowMs, ms) ?? 0) * ms) / 1000;

/** Runs a schedule through samplePlan/rowCounts; `anchored: false` reads each row's own window (no anchor). */
function rows(s: Series, everyMs: number, minMs: number, anchored = true) {
  let previous: SampleCursor | { atMs: number } | undefined;
  const out: Array<{ from: number; at: number; errors: number }> = [];
  for (let now = FROM; now <= TO; now += everyMs) {
    const plan = samplePlan({ nowMs: now, previous, intervalMs: everyMs, minMs, maxSpanMs: anchored ? 86_400_000 : 0 });
    if (!plan) continue;
    const read = { errors: increase(s, now, plan.readMs), total: 0 };
    out.push({ from: plan.windowStartMs, at: now, errors: rowCounts(plan, read, previous).errors });
    previous = anchored ? { anchorMs: plan.anchorMs, atMs: now, ...read } : { atMs: now };
  }
  return out;
}

describe('slo_samples rows on a schedule shorter than two scrapes', () => {
  const s = errorCounter();

  it('add up to Prometheus’ increase over the period (within 0.5%) and to the generated events', () => {
    const r = rows(s, 30 * S, DEFAULT_MIN_SAMPLE_MS);
    for (let i = 1; i < r.length; i++) expect(r[i]!.from).toBe(r[i - 1]!.at);
    const from = r[0]!.from;
    const sum = r.reduce((a, x) => a + x.errors, 0);
    const whole = increase(s, TO, TO - from);
    expect(Math.abs(sum - whole) / whole).toBeLessThan(0.005);
    // The generated events: 20/s at 2%, 40% for ten minutes (credited from 7 s past the minute).
    // Prometheus' own increase extrapolates its edges with the range's average slope, which the
    // burst inflates: it reads 0.5% over here, and the rows with it.
    const truth = 20 * (0.02 * ((TO - from) / 1000 - 600) + 0.4 * 600);
    expect(Math.abs(sum - truth) / truth).toBeLessThan(0.01);
  });

  it('rows read one evaluation apart (before the fix) count nothing at a 30 s schedule over a 60 s scrape', () => {
    const r = rows(s, 30 * S, 1000, false);
    expect(r.reduce((a, x) => a + x.errors, 0)).toBe(0);
  });

  it('adjacent two-scrape windows without an anchor miss a burst’s edges (why rows difference one anchor)', () => {
    const r = rows(s, 30 * S, DEFAULT_MIN_SAMPLE_MS, false);
    const sum = r.reduce((a, x) => a + x.errors, 0);
    const whole = increase(s, TO, TO - r[0]!.from);
    expect(Math.abs(sum - whole) / whole).toBeGreaterThan(0.005);
  });

  it('plans: first row, waiting for two scrapes, the same anchor, a new anchor, an outage', () => {
    const base = { intervalMs: 30 * S, minMs: 2 * M, maxSpanMs: H };
    expect(samplePlan({ ...base, nowMs: 10 * M, previous: undefined })).toEqual({ readMs: 2 * M, anchorMs: 8 * M, windowStartMs: 8 * M });
    const cursor = { anchorMs: 8 * M, atMs: 10 * M, errors: 1, total: 10 };
    expect(samplePlan({ ...base, nowMs: 10.5 * M, previous: cursor })).toEqual({ readMs: 2.5 * M, anchorMs: 8 * M, windowStartMs: 10 * M });
    expect(samplePlan({ ...base, nowMs: 10 * M, previous: cursor })).toBeUndefined();
    // After a restart only the last row's time is known: a new anchor there, once it holds two scrapes.
    expect(samplePlan({ ...base, nowMs: 11 * M, previous: { atMs: 10 * M } })).toBeUndefined();
    expect(samplePlan({ ...base, nowMs: 12 * M, previous: { atMs: 10 * M } })).toEqual({ readMs: 2 * M, anchorMs: 10 * M, windowStartMs: 10 * M });
    // Past the span cap a new anchor starts at the previous row.
    expect(samplePlan({ ...base, nowMs: 68.5 * M, previous: cursor })).toEqual({ readMs: 58.5 * M, anchorMs: 10 * M, windowStartMs: 10 * M });
    expect(samplePlan({ ...base, nowMs: 69 * M, previous: { ...cursor, atMs: 68.5 * M } })).toBeUndefined();
    // After a long outage the row covers at most the cap.
    expect(samplePlan({ ...base, nowMs: 30 * H, previous: cursor })).toEqual({ readMs: H, anchorMs: 29 * H, windowStartMs: 29 * H });
    // Rows from one anchor are differences of reads; a new anchor's row is its read.
    const plan = { readMs: 2.5 * M, anchorMs: 8 * M, windowStartMs: 10 * M };
    expect(rowCounts(plan, { errors: 3, total: 25 }, cursor)).toEqual({ errors: 2, total: 15 });
    expect(rowCounts({ ...plan, anchorMs: 10 * M }, { errors: 3, total: 25 }, cursor)).toEqual({ errors: 3, total: 25 });
  });

  it('the minimum read is two default scrapes for Prometheus SLIs, the slice range when longer, none for synthetic ones', () => {
    const { slos, problems } = importSlos(
      parseYamlSource(
        't.yaml',
        `apiVersion: quench/v1
kind: SLO
metadata: { name: occ }
service: s
objective: 99
sli: { events: { errorQuery: 'e[{{window}}]', totalQuery: 't[{{window}}]' } }
---
apiVersion: quench/v1
kind: SLO
metadata: { name: slices }
service: s
objective: 99
budgeting: { method: timeslices, sliceLength: 1m, sliceTarget: 99 }
sli: { events: { errorQuery: 'e[{{window}}]', totalQuery: 't[{{window}}]' }, scrapeInterval: 5m }
---
apiVersion: quench/v1
kind: SLO
metadata: { name: syn }
service: s
objective: 99
sli: { synthetic: { requestsPerSecond: 1, script: [{ at: "0", errorRatio: 0.01 }] } }
`,
      ).documents,
    );
    expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(slos.map(minSampleMs)).toEqual([2 * M, 10 * M, 1000]);
  });
});
