import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { parseYamlSource } from '../../src/definitions/source.js';
import { importSlos } from '../../src/slo/definitions.js';
import { SloEvaluator } from '../../src/slo/evaluator.js';
import { PrometheusClient } from '../../src/slo/sources/prometheus-client.js';
import { prometheusSource } from '../../src/slo/sources/prometheus.js';
import { syntheticSource } from '../../src/slo/sources/synthetic.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { type PrometheusProcess, prometheusAvailable, PROMETHEUS_BIN, startPrometheus } from '../support/prometheus.js';

/**
 * One time-slice SLO, read from the synthetic source and from a real Prometheus evaluating the
 * same error ratio as PromQL (`vector(…)` and `time()`, so no scraping): both count the same bad
 * slices of the same slice grid, so attainment, burn rates and budget agree exactly.
 */
const slo = (name: string, sli: string) => `apiVersion: quench/v1
kind: SLO
metadata: { name: ${name} }
service: svc
objective: 99
window: { calendar: month }
budgeting: { method: timeslices, sliceLength: 5m, sliceTarget: 95 }
sli:
  ${sli}
---
`;
const yaml = [
  slo('synthetic-constant', 'synthetic: { script: [{ at: "0", errorRatio: 0.1 }] }'),
  slo('prometheus-constant', 'raw: { errorRatioQuery: "vector(0.1)" }'),
  // 10% errors in the first half of every 10 minutes, none in the second: every other slice is bad.
  slo('synthetic-alternating', 'synthetic: { repeat: 10m, script: [{ at: "0", errorRatio: 0.1 }, { at: 5m, errorRatio: 0 }] }'),
  slo('prometheus-alternating', 'raw: { errorRatioQuery: "vector(0.1) * (vector(time()) % 600 < bool 300)" }'),
].join('');

describe.skipIf(!prometheusAvailable)(`time slices: synthetic source = Prometheus source (${PROMETHEUS_BIN})`, () => {
  let prom: PrometheusProcess;
  beforeAll(async () => {
    prom = await startPrometheus({ targets: [] });
  });
  afterAll(async () => prom?.stop());

  it('the same SLO gives the same bad-slice ratio, burn rates and budget from both sources', async () => {
    const { slos, problems } = importSlos(parseYamlSource('slices.yaml', yaml).documents);
    expect(problems).toEqual([]);
    // Two and a half days into March: 720 slices so far, a cheap query for Prometheus.
    const now = new Date('2025-03-03T12:00:00Z');
    const evaluator = new SloEvaluator({
      slos,
      sources: { prometheus: prometheusSource(new PrometheusClient({ baseUrl: prom.url, timeoutMs: 20_000 })), synthetic: syntheticSource(now) },
      clock: new ManualClock(now),
      logger: silentLogger,
      timeoutMs: 30_000,
    });
    await evaluator.evaluateAll();
    const figures = (name: string) => {
      const s = evaluator.get(name)!;
      expect(s.state, `${name}: ${s.error ?? ''}`).toBe('ok');
      return { attainment: s.attainment, burnRates: s.burnRates, remaining: s.errorBudget.remaining };
    };

    // The reviewer's case: 10% errors > the 5% a slice may have: every slice is bad.
    const constant = figures('synthetic-constant');
    expect(constant.attainment).toBe(0);
    expect(Object.values(constant.burnRates).every((b) => b === 100)).toBe(true);
    expect(constant.remaining).toBeLessThan(0);
    expect(figures('prometheus-constant')).toEqual(constant);

    const alternating = figures('synthetic-alternating');
    expect(alternating.attainment).toBe(0.5);
    expect(figures('prometheus-alternating')).toEqual(alternating);
  });
});
