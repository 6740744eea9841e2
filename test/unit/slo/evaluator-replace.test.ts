import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { parseYamlSource } from '../../../src/definitions/source.js';
import type { Slo } from '../../../src/slo/core/model.js';
import { importSlos } from '../../../src/slo/definitions.js';
import { SloEvaluator } from '../../../src/slo/evaluator.js';
import { sloMetrics } from '../../../src/slo/metrics.js';
import type { SliSource, WindowValue } from '../../../src/slo/sources/port.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';

const doc = (name: string, objective: string) => `apiVersion: quench/v1
kind: SLO
metadata: { name: ${name} }
service: svc
objective: ${objective}
sli: { events: { errorQuery: 'e[{{window}}]', totalQuery: 't[{{window}}]' } }
`;
const load = (...docs: string[]): Slo[] => {
  const { slos, problems } = importSlos(parseYamlSource('t.yaml', docs.join('---\n')).documents);
  expect(problems).toEqual([]);
  return slos;
};

/** 0.5% errors on every window; reads wait until `release` is called (a cycle in flight). */
function gatedSource(): SliSource & { release: () => void } {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  return {
    name: 'gated',
    release: () => open(),
    async read(_slo: Slo, windows: readonly number[]) {
      await gate;
      return new Map<number, WindowValue>(windows.map((w) => [w, { ratio: 0.005, counts: { errors: 5, total: 1000 }, requests: 1000 }]));
    },
  };
}

describe('SloEvaluator.replace (hot reload)', () => {
  it('adds, removes and changes SLOs; a cycle in flight does not bring a removed SLO back', async () => {
    const metrics = createMetrics();
    const source = gatedSource();
    const ev = new SloEvaluator({
      slos: load(doc('a', '99'), doc('b', '99')),
      sources: { prometheus: source, synthetic: source },
      clock: new ManualClock(Date.UTC(2026, 0, 1)),
      logger: silentLogger,
      metrics: sloMetrics(metrics.registry),
    });
    source.release();
    await ev.evaluateAll();
    expect(ev.get('a')!.burnRates['1h']).toBeCloseTo(0.5, 9);
    expect(await metrics.registry.getSingleMetricAsString('quench_slo_objective_ratio')).toContain('slo="b"');

    const changes = ev.replace(load(doc('a', '99.5'), doc('c', '99')));
    expect(changes).toEqual({ added: ['c'], removed: ['b'], changed: ['a'] });
    expect(ev.list().map((s) => [s.name, s.state])).toEqual([
      ['a', 'ok'], // its last status until the next cycle
      ['c', 'not_evaluated'],
    ]);
    expect(ev.get('b')).toBeUndefined();
    expect(await metrics.registry.getSingleMetricAsString('quench_slo_objective_ratio')).not.toContain('slo="b"');
    await ev.evaluateAll();
    // The new objective (0.5% budget) from the next cycle on.
    expect(ev.get('a')!.burnRates['1h']).toBeCloseTo(1, 9);
    expect(ev.get('c')!.state).toBe('ok');
    expect(ev.replace(load(doc('a', '99.5'), doc('c', '99')))).toEqual({ added: [], removed: [], changed: [] });
  });

  it('an SLO removed while its evaluation is in flight stays removed', async () => {
    const source = gatedSource();
    const ev = new SloEvaluator({
      slos: load(doc('a', '99'), doc('b', '99')),
      sources: { prometheus: source, synthetic: source },
      clock: new ManualClock(Date.UTC(2026, 0, 1)),
      logger: silentLogger,
    });
    const cycle = ev.evaluateAll();
    await new Promise((r) => setImmediate(r));
    ev.replace(load(doc('a', '99')));
    source.release();
    await cycle;
    expect(ev.get('b')).toBeUndefined();
    expect(ev.list().map((s) => s.name)).toEqual(['a']);
    expect(ev.get('a')!.state).toBe('ok');
  });
});
