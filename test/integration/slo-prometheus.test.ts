import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { systemClock } from '../../src/core/clock.js';
import { parseYamlSource } from '../../src/definitions/source.js';
import { rulesFile } from '../../src/slo/core/rules.js';
import { importSlos } from '../../src/slo/definitions.js';
import { SloEvaluator } from '../../src/slo/evaluator.js';
import { PrometheusClient } from '../../src/slo/sources/prometheus-client.js';
import { prometheusSource } from '../../src/slo/sources/prometheus.js';
import { syntheticSource } from '../../src/slo/sources/synthetic.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { RecordingTriggerSink } from '../../src/triggers/sink.js';
import {
  type PrometheusProcess,
  prometheusAvailable,
  PROMETHEUS_BIN,
  startPrometheus,
  startTrafficTarget,
  type TrafficTarget,
} from '../support/prometheus.js';

// Windows of seconds instead of hours, so one burn and its recovery take well under a minute;
// the test's Prometheus scrapes every second (declared, so the short windows are not warned about).
const sloYaml = `apiVersion: quench/v1
kind: SLO
metadata: { name: target-availability }
service: target
objective: 99
window: 1h
sli:
  scrapeInterval: 1s
  events:
    errorQuery: sum(rate(http_requests_total{job="target",code="500"}[{{window}}]))
    totalQuery: sum(rate(http_requests_total{job="target"}[{{window}}]))
alerting:
  minEvents: 10
  windows:
    - { severity: page, long: 15s, short: 5s, factor: 5 }
  page: { for: "0" }
  ticket: { enabled: false }
---
apiVersion: openslo/v1
kind: SLO
metadata: { name: target-slices, annotations: { quench.dev/scrape-interval: 1s } }
spec:
  service: target
  indicator:
    spec:
      ratioMetric:
        good: { metricSource: { type: Prometheus, spec: { query: 'sum(rate(http_requests_total{job="target",code="200"}[{{window}}]))' } } }
        total: { metricSource: { type: Prometheus, spec: { query: 'sum(rate(http_requests_total{job="target"}[{{window}}]))' } } }
  timeWindow: [{ duration: 1h, isRolling: true }]
  budgetingMethod: Timeslices
  objectives: [{ target: 0.9, timeSliceTarget: 0.95, timeSliceWindow: 5s }]
  alertPolicies:
    - kind: AlertPolicy
      metadata: { name: fast }
      spec:
        conditions:
          - kind: AlertCondition
            metadata: { name: fast }
            spec: { severity: page, condition: { kind: burnrate, op: gt, threshold: 5, lookbackWindow: 24s } }
`;

if (!prometheusAvailable) {
  console.warn(
    `skipping the Prometheus SLO test: ${PROMETHEUS_BIN} not found (install the Debian package 'prometheus', or set PROMETHEUS_BIN)`,
  );
}

describe.skipIf(!prometheusAvailable)('SLO evaluation against a real Prometheus', () => {
  let target: TrafficTarget;
  let prom: PrometheusProcess;
  const { slos, problems } = importSlos(parseYamlSource('target.yaml', sloYaml).documents);
  const slo = slos.find((s) => s.name === 'target-availability')!;

  beforeAll(async () => {
    expect(problems).toEqual([]);
    target = await startTrafficTarget(200);
    target.errorRatio = 0.01;
    prom = await startPrometheus({ targets: [target.address], rules: stringify({ groups: rulesFile(slos).groups }) });
  });
  afterAll(async () => {
    await prom?.stop();
    await target?.close();
  });

  it('burn rates match the produced error ratio; the page fires when it rises and resolves when it drops', async () => {
    const client = new PrometheusClient({ baseUrl: prom.url, timeoutMs: 5000 });
    const triggers = new RecordingTriggerSink();
    const evaluator = new SloEvaluator({
      slos,
      sources: { prometheus: prometheusSource(client), synthetic: syntheticSource(new Date()) },
      clock: systemClock,
      logger: silentLogger,
      triggers: () => triggers,
    });
    const status = () => evaluator.get(slo.name)!;
    const relative = (actual: number | null | undefined, expected: number) => Math.abs((actual ?? Number.NaN) / expected - 1);
    /** Evaluates until `check` holds; polls, never a fixed sleep. */
    const until = async (what: string, check: () => boolean, timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        await evaluator.evaluateAll();
        if (check()) return;
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${what}; last status: ${JSON.stringify(status())}\n${prom.output()}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    const steady = (burn: number) => () => ['5s', '15s'].every((w) => relative(status().burnRates[w], burn) < 0.01);

    // 1% errors against a 1% budget: a burn rate of 1 in every window, no alert.
    await until('burn rate 1 in both windows', steady(1));
    // At 1% errors every 5s slice meets its 95% target: no bad slices.
    await until('no bad slices', () => evaluator.get('target-slices')!.burnRates['24s'] === 0);
    expect(status().state).toBe('ok');
    expect(status().alerts.page.status).toBe('inactive');
    expect(relative(1 - status().attainment!, 0.01)).toBeLessThan(0.01);

    // 20% errors: burn 20 > 5 in both windows; the page fires once.
    target.errorRatio = 0.2;
    await until('the page to fire', () => status().alerts.page.status === 'firing');
    await until('burn rate 20 in both windows', steady(20));
    // Time slices (5s, good when ≥ 95% succeed): at 20% errors every slice is bad, an error
    // ratio of 1 against a 10% budget. PromQL subqueries, evaluated by the real engine.
    await until('every slice bad', () => evaluator.get('target-slices')!.burnRates['24s'] === 10);
    expect(evaluator.get('target-slices')!.state).toBe('ok');
    expect(triggers.events.filter((e) => e.slo?.name === slo.name).map((e) => e.type)).toEqual(['slo.burn']);
    expect(triggers.events.find((e) => e.slo?.name === slo.name)!.slo).toMatchObject({ name: slo.name, severity: 'page' });

    // Prometheus, running `quench slo rules` for the same SLO, agrees on the ratio and the alert.
    // (Recording rules lag by up to one rule evaluation, so poll for them too.)
    let recorded: number | undefined;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
      recorded = (await client.query('slo:sli_error:ratio_rate15s'))[0]?.value;
      if (relative(recorded, 0.2) < 0.01) break;
    }
    expect(relative(recorded, 0.2)).toBeLessThan(0.01);
    const alerts = (await (await fetch(`${prom.url}/api/v1/alerts`)).json()) as {
      data: { alerts: Array<{ state: string; labels: Record<string, string> }> };
    };
    expect(alerts.data.alerts.filter((a) => a.state === 'firing' && a.labels.slo === slo.name).map((a) => a.labels.severity)).toEqual([
      'page',
    ]);

    // No errors: the short window clears first and the page resolves.
    target.errorRatio = 0;
    await until('the page to resolve', () => status().alerts.page.status === 'resolved');
    expect(triggers.events.filter((e) => e.slo?.name === slo.name).map((e) => e.type)).toEqual(['slo.burn', 'slo.recovered']);
    await until('burn rate 0', () => status().burnRates['15s'] === 0);
  });
});
