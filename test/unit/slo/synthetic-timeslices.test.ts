import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { parseYamlSource } from '../../../src/definitions/source.js';
import type { Budgeting, Slo, SyntheticScript } from '../../../src/slo/core/model.js';
import { windowExpressions } from '../../../src/slo/core/promql.js';
import { syntheticCounts, syntheticSliceCounts } from '../../../src/slo/core/synthetic.js';
import { importSlos } from '../../../src/slo/definitions.js';
import { SloEvaluator } from '../../../src/slo/evaluator.js';
import { syntheticSource } from '../../../src/slo/sources/synthetic.js';
import { silentLogger } from '../../../src/telemetry/logger.js';

const M = 60_000;

function load(yaml: string): Slo {
  const { slos, problems } = importSlos(parseYamlSource('s.yaml', yaml).documents);
  expect(problems).toEqual([]);
  return slos[0]!;
}

const sloYaml = (budgeting: string, script: string, window = '{ calendar: month }') => `apiVersion: quench/v1
kind: SLO
metadata: { name: synth }
service: svc
objective: 99
window: ${window}
budgeting: ${budgeting}
sli:
  synthetic:
    requestsPerSecond: 10
    ${script}
`;

async function statusAt(slo: Slo, at: Date) {
  const evaluator = new SloEvaluator({ slos: [slo], sources: { synthetic: syntheticSource(at) }, clock: new ManualClock(at), logger: silentLogger });
  await evaluator.evaluateAll();
  return evaluator.get(slo.name)!;
}

/** Slice by slice, the plain way: the reference the run-skipping sweep must equal. */
function naiveSliceCounts(script: SyntheticScript, fromMs: number, toMs: number, b: Exclude<Budgeting, { method: 'occurrences' }>) {
  let errors = 0;
  let total = 0;
  const range = b.rangeMs ?? b.sliceMs;
  for (let end = (Math.floor(fromMs / b.sliceMs) + 1) * b.sliceMs; end <= toMs; end += b.sliceMs) {
    const c = syntheticCounts(script, 0, end - range, end);
    const ratio = Number((c.errors / c.total).toPrecision(12));
    errors += b.method === 'ratioTimeslices' ? ratio : ratio > Number((1 - b.sliceTarget).toPrecision(12)) ? 1 : 0;
    total++;
  }
  return { errors, total };
}

describe('the synthetic source with time slices (as the Prometheus source counts them)', () => {
  it('reviewer repro: 10% errors against 95% slice targets makes every slice bad: attainment 0, burn 100, budget exhausted', async () => {
    const slo = load(sloYaml('{ method: timeslices, sliceLength: 5m, sliceTarget: 95 }', 'script: [{ at: "0", errorRatio: 0.1 }]'));
    const status = await statusAt(slo, new Date('2025-03-11T12:00:00Z'));
    expect(status.state).toBe('ok');
    expect(status.attainment).toBe(0);
    expect(Object.values(status.burnRates).every((b) => b === 100)).toBe(true);
    expect(status.errorBudget.remaining!).toBeLessThanOrEqual(0);
  });

  it('occurrences still count events: 10% errors is attainment 0.9, burn 10', async () => {
    const slo = load(sloYaml('occurrences', 'script: [{ at: "0", errorRatio: 0.1 }]', '30d'));
    const status = await statusAt(slo, new Date('2025-03-11T12:00:00Z'));
    expect(status.attainment).toBeCloseTo(0.9, 12);
    expect(status.burnRates['1h']).toBeCloseTo(10, 9);
  });

  it('a script that varies is judged slice by slice: half the slices bad is a ratio of 0.5', async () => {
    // 10% errors for 5 minutes, then none for 5: alternate 5m slices are bad.
    const slo = load(
      sloYaml('{ method: timeslices, sliceLength: 5m, sliceTarget: 95 }', 'repeat: 10m\n    script: [{ at: "0", errorRatio: 0.1 }, { at: 5m, errorRatio: 0 }]', '7d'),
    );
    const at = new Date('2025-03-11T12:00:00Z');
    const values = await syntheticSource(at).read(slo, [3_600_000, 86_400_000], at);
    expect(values.get(3_600_000)).toEqual({ ratio: 0.5, counts: { errors: 6, total: 12 }, requests: 36_000 });
    expect(values.get(86_400_000)!.counts).toEqual({ errors: 144, total: 288 });
    // The same script over occurrences: 5% of events.
    const events = await syntheticSource(at).read({ ...slo, budgeting: { method: 'occurrences' } }, [3_600_000], at);
    expect(events.get(3_600_000)!.ratio).toBeCloseTo(0.05, 12);
  });

  it('ratioTimeslices average the slices\' error ratios', async () => {
    const slo = load(
      sloYaml('{ method: ratioTimeslices, sliceLength: 5m }', 'repeat: 10m\n    script: [{ at: "0", errorRatio: 0.1 }, { at: 5m, errorRatio: 0.02 }]', '7d'),
    );
    const at = new Date('2025-03-11T12:00:00Z');
    const v = (await syntheticSource(at).read(slo, [3_600_000], at)).get(3_600_000)!;
    expect(v.counts!.total).toBe(12);
    expect(v.ratio).toBeCloseTo(0.06, 12);
  });

  it('a slice whose range straddles a phase change is judged on its own mix; runs inside a phase are counted at once', () => {
    // Phase changes off the slice grid (every 7m and 13m of a 20m cycle), ranges longer than slices.
    const script: SyntheticScript = {
      requestsPerSecond: 3,
      anchor: 'epoch',
      repeatMs: 20 * M,
      phases: [
        { atMs: 0, errorRatio: 0.2 },
        { atMs: 7 * M, errorRatio: 0.01 },
        { atMs: 13 * M, errorRatio: 0.06 },
      ],
    };
    const from = Date.UTC(2025, 0, 1, 0, 3);
    for (const b of [
      { method: 'timeslices', sliceMs: 5 * M, sliceTarget: 0.95 },
      { method: 'timeslices', sliceMs: 1 * M, sliceTarget: 0.9, rangeMs: 3 * M },
      { method: 'timeslices', sliceMs: 2 * M, sliceTarget: 0.99 },
      { method: 'ratioTimeslices', sliceMs: 5 * M },
    ] as const) {
      for (const span of [4 * M, 61 * M, 86_400_000]) {
        const got = syntheticSliceCounts(script, 0, from, from + span, b);
        const want = naiveSliceCounts(script, from, from + span, b);
        expect(got.total).toBe(want.total);
        expect(got.errors).toBeCloseTo(want.errors, 9);
      }
    }
    // The constant script's long window is one step, not 525,600.
    const started = performance.now();
    const year = syntheticSliceCounts({ requestsPerSecond: 1, anchor: 'epoch', phases: [{ atMs: 0, errorRatio: 0.1 }] }, 0, 0, 365 * 86_400_000, {
      method: 'timeslices',
      sliceMs: M,
      sliceTarget: 0.95,
    });
    expect(year).toEqual({ errors: 525_600, total: 525_600 });
    expect(performance.now() - started).toBeLessThan(50);
  });

  it('the Prometheus path uses the same bad-slice threshold (0.05 for 95%, not 0.050000000000000044)', () => {
    const { parts } = windowExpressions(
      { kind: 'raw', source: 'prometheus', errorRatioQuery: 'vector(0.1)' },
      { method: 'timeslices', sliceMs: 5 * M, sliceTarget: 0.95 },
      3_600_000,
    );
    expect(parts.errors).toContain('> bool 0.05)');
  });
});
