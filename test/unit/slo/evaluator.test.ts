import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { parseYamlSource } from '../../../src/definitions/source.js';
import type { Slo } from '../../../src/slo/core/model.js';
import { importSlos } from '../../../src/slo/definitions.js';
import { SloEvaluator } from '../../../src/slo/evaluator.js';
import { sloMetrics } from '../../../src/slo/metrics.js';
import type { SliSource, WindowValue } from '../../../src/slo/sources/port.js';
import { syntheticSource } from '../../../src/slo/sources/synthetic.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';

function slo(name: string): string {
  return `apiVersion: quench/v1
kind: SLO
metadata: { name: ${name} }
service: svc
objective: 99
sli: { events: { errorQuery: 'e[{{window}}]', totalQuery: 't[{{window}}]' } }
---
`;
}

function load(names: string[]): Slo[] {
  const { slos, problems } = importSlos(parseYamlSource('t.yaml', names.map(slo).join('')).documents);
  expect(problems).toEqual([]);
  return slos;
}

/** An SLI source port whose behaviour per SLO the test decides: the port is ours, so a fake of it is fair. */
function scriptedSource(behaviour: (slo: Slo) => 'hang' | 'fail' | number): SliSource & { inFlight: number; maxInFlight: number } {
  const source = {
    name: 'scripted',
    inFlight: 0,
    maxInFlight: 0,
    async read(s: Slo, windows: readonly number[], _now: Date, signal?: AbortSignal) {
      source.inFlight++;
      source.maxInFlight = Math.max(source.maxInFlight, source.inFlight);
      try {
        await new Promise((r) => setImmediate(r));
        const b = behaviour(s);
        // A hanging query ends only when the evaluator gives up on it (abort).
        if (b === 'hang') return await new Promise<never>((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason)));
        if (b === 'fail') throw new Error('boom');
        const ratio = b;
        return new Map<number, WindowValue>(windows.map((w) => [w, { ratio, counts: { errors: ratio * 1000, total: 1000 } }]));
      } finally {
        source.inFlight--;
      }
    },
  };
  return source;
}

describe('SLO evaluator isolation', () => {
  it('one hanging and one failing SLO do not delay or break the others', async () => {
    const slos = load(['a', 'slow', 'b', 'broken', 'c']);
    const source = scriptedSource((s) => (s.name === 'slow' ? 'hang' : s.name === 'broken' ? 'fail' : 0.005));
    const metrics = createMetrics();
    const evaluator = new SloEvaluator({
      slos,
      sources: { prometheus: source, synthetic: syntheticSource(new Date(0)) },
      clock: new ManualClock(),
      logger: silentLogger,
      metrics: sloMetrics(metrics.registry),
      concurrency: 2,
      timeoutMs: 50,
    });
    const result = await evaluator.evaluateAll();
    expect(result).toMatchObject({ evaluated: 3, failed: 2 });
    expect(source.maxInFlight).toBeLessThanOrEqual(2);
    for (const name of ['a', 'b', 'c']) {
      const s = evaluator.get(name)!;
      expect(s.state).toBe('ok');
      expect(s.burnRates['1h']).toBeCloseTo(0.5, 12);
      expect(s.errorBudget.remaining).toBeCloseTo(0.5, 12);
    }
    expect(evaluator.get('slow')).toMatchObject({ state: 'error', error: expect.stringContaining('took longer than 50 ms') });
    expect(evaluator.get('broken')).toMatchObject({ state: 'error', error: 'boom' });
    const errors = await metrics.registry.getSingleMetric('quench_slo_evaluation_errors_total')!.get();
    expect(errors.values.map((v) => [v.labels.slo, v.labels.reason, v.value]).sort()).toEqual([
      ['broken', 'internal', 1],
      ['slow', 'prometheus_unavailable', 1],
    ]);
    const remaining = await metrics.registry.getSingleMetric('quench_slo_error_budget_remaining_ratio')!.get();
    expect(remaining.values.map((v) => v.labels.slo).sort()).toEqual(['a', 'b', 'c']);
  });

  it('no traffic is "no data": null budget, no NaN anywhere, no alert', async () => {
    const slos = load(['quiet']);
    const empty: SliSource = {
      name: 'empty',
      read: async (_s, windows) => new Map(windows.map((w) => [w, { ratio: null, counts: { errors: 0, total: 0 } }])),
    };
    const evaluator = new SloEvaluator({
      slos,
      sources: { prometheus: empty, synthetic: syntheticSource(new Date(0)) },
      clock: new ManualClock(),
      logger: silentLogger,
    });
    await evaluator.evaluateAll();
    const s = evaluator.get('quiet')!;
    expect(s.state).toBe('no_data');
    expect(s.errorBudget.remaining).toBeNull();
    expect(s.attainment).toBeNull();
    expect(Object.values(s.burnRates).every((b) => b === null)).toBe(true);
    expect(JSON.stringify(s)).not.toContain('NaN');
    expect(s.alerts.page.status).toBe('inactive');
  });

  it('without PROMETHEUS_URL, Prometheus SLOs report "no data source" and are not errors', async () => {
    const evaluator = new SloEvaluator({
      slos: load(['p']),
      sources: { synthetic: syntheticSource(new Date(0)) },
      clock: new ManualClock(),
      logger: silentLogger,
    });
    expect(await evaluator.evaluateAll()).toMatchObject({ evaluated: 1, failed: 0 });
    expect(evaluator.get('p')).toMatchObject({ state: 'not_evaluated', error: expect.stringContaining('no data source') });
  });
});
