import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { formatDuration } from '../../src/slo/core/duration.js';
import { loadSlos } from '../../src/slo/definitions.js';
import { SloEvaluator } from '../../src/slo/evaluator.js';
import { PrometheusClient } from '../../src/slo/sources/prometheus-client.js';
import { prometheusSource } from '../../src/slo/sources/prometheus.js';
import { syntheticSource } from '../../src/slo/sources/synthetic.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import type { PeerDaemon } from '../support/peer-daemon.js';
import { prometheusAvailable } from '../support/prometheus.js';
import { exampleSeries, expectedErrorRatio, type MetricsTarget, startMetricsTarget, startScrapingPrometheus } from './slo-formats-harness.js';

/**
 * Acceptance (issue 16): Sloth's and Pyrra's own example files, unchanged, load and are evaluated
 * by Quench against a real Prometheus scraping series of known error ratios. Each SLO's error
 * ratio in its shortest window must be the one produced; none may read "no data".
 */
const fixtures = join(import.meta.dirname, '../fixtures');
const files = [
  join(fixtures, 'sloth/examples'),
  ...['caddy-response-latency', 'prometheus-probe-success', 'pyrra-filesystem-errors', 'prometheus-http'].map((f) =>
    join(fixtures, `pyrra/examples/${f}.yaml`),
  ),
  join(fixtures, 'pyrra/kubernetes/slo-coredns-response-errors.yaml'),
  join(fixtures, 'pyrra/kubernetes/slo-apiserver-read-cluster-latency.yaml'),
];

describe.skipIf(!prometheusAvailable)("Sloth's and Pyrra's example files evaluated against a real Prometheus", () => {
  let target: MetricsTarget;
  let prom: PeerDaemon;
  const { slos, problems } = loadSlos(files);

  beforeAll(async () => {
    target = await startMetricsTarget(exampleSeries);
    // Sloth's home-wifi SLIs are subqueries without a step (`[{{.window}}:]`): they step at the
    // evaluation interval, aligned to its multiples, so they have data from the first aligned
    // step after the first scrape (at most 30 s here), and a 30-day window stays 86,400 steps.
    prom = await startScrapingPrometheus(target.address, undefined, '30s');
  });
  afterAll(async () => {
    await prom?.stop();
    await target?.close();
  });

  it('every example SLO loads (warnings only) and reads the error ratio it was given', async () => {
    expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(slos.map((s) => s.name).sort()).toEqual(Object.keys(expectedErrorRatio).sort());
    expect(new Set(slos.map((s) => s.origin.format))).toEqual(new Set(['sloth', 'pyrra']));
    const evaluator = new SloEvaluator({
      slos,
      sources: { prometheus: prometheusSource(new PrometheusClient({ baseUrl: prom.url, timeoutMs: 5000 })), synthetic: syntheticSource(new Date()) },
      clock: systemClock,
      logger: silentLogger,
    });
    // The shortest window's ratio, from its burn rate: burn × budget.
    const shortest = (name: string) => {
      const s = evaluator.get(name)!;
      const slo = slos.find((x) => x.name === name)!;
      const w = slo.alerting.windows.reduce((a, b) => (b.shortMs < a.shortMs ? b : a));
      const burn = s.burnRates[formatDuration(w.shortMs)];
      return burn === null || burn === undefined ? undefined : burn * (1 - slo.objective);
    };
    const close = (name: string) => {
      const r = shortest(name);
      return r !== undefined && Math.abs(r - expectedErrorRatio[name]!) <= 1e-6 + 1e-3 * expectedErrorRatio[name]!;
    };
    const deadline = Date.now() + 90_000;
    for (;;) {
      await evaluator.evaluateAll();
      if (slos.every((s) => close(s.name))) break;
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    for (const s of slos) {
      const status = evaluator.get(s.name)!;
      expect(status.state, `${s.name}: ${JSON.stringify(status)}`).toBe('ok');
      expect(shortest(s.name), `${s.name} (${s.origin.format}): ${JSON.stringify(status.burnRates)}`).toBeCloseTo(expectedErrorRatio[s.name]!, 5);
    }
  }, 150_000);
});
