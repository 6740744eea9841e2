import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import type { SloStatus } from '../../src/slo/core/status.js';
import type { PeerDaemon } from '../support/peer-daemon.js';
import { prometheusAvailable } from '../support/prometheus.js';
import { type MetricsTarget, startMetricsTarget, startScrapingPrometheus } from './slo-formats-harness.js';

/**
 * OpenSLO DataSources with connectionDetails are honoured: two real Prometheus servers hold the
 * same metric with different error ratios (1% in "eu", 10% in "us"), and each SLO reads the one
 * its metricSourceRef names, through `quench slo status`, with PROMETHEUS_URL unset. An SLO whose
 * DataSource has no connection details still reads PROMETHEUS_URL (none here: "no data source").
 */
const files = (eu: string, us: string) => `apiVersion: openslo/v1
kind: DataSource
metadata: { name: prometheus-eu }
spec:
  type: Prometheus
  connectionDetails: { url: ${eu} }
---
apiVersion: openslo/v1
kind: DataSource
metadata: { name: mimir-us }
spec:
  type: Mimir
  connectionDetails: { url: ${us}/api/v1, tenant: team-a }
---
apiVersion: openslo/v1
kind: DataSource
metadata: { name: default-prometheus }
spec: { type: Prometheus }
${['eu:prometheus-eu', 'us:mimir-us', 'default:default-prometheus']
  .map((pair) => {
    const [name, ds] = pair.split(':');
    return `---
apiVersion: openslo/v1
kind: SLO
metadata: { name: api-${name} }
spec:
  service: api
  budgetingMethod: Occurrences
  timeWindow: [{ duration: 28d, isRolling: true }]
  objectives: [{ target: 0.95 }]
  indicator:
    metadata: { name: api-${name}-errors }
    spec:
      ratioMetric:
        counter: true
        bad: { metricSource: { metricSourceRef: ${ds}, spec: { query: 'sum(rate(requests_total{code="500"}[{{window}}]))' } } }
        total: { metricSource: { metricSourceRef: ${ds}, spec: { query: 'sum(rate(requests_total[{{window}}]))' } } }
`;
  })
  .join('')}`;

describe.skipIf(!prometheusAvailable)('OpenSLO DataSource endpoints (two real Prometheus servers)', () => {
  let eu: MetricsTarget;
  let us: MetricsTarget;
  let promEu: PeerDaemon;
  let promUs: PeerDaemon;
  let dir: string;

  beforeAll(async () => {
    [eu, us] = await Promise.all([
      startMetricsTarget([
        { name: 'requests_total', labels: { code: '200' }, value: 99 },
        { name: 'requests_total', labels: { code: '500' }, value: 1 },
      ]),
      startMetricsTarget([
        { name: 'requests_total', labels: { code: '200' }, value: 90 },
        { name: 'requests_total', labels: { code: '500' }, value: 10 },
      ]),
    ]);
    [promEu, promUs] = await Promise.all([startScrapingPrometheus(eu.address), startScrapingPrometheus(us.address)]);
    dir = mkdtempSync(join(tmpdir(), 'quench-datasources-'));
    writeFileSync(join(dir, 'api.yaml'), files(promEu.url, promUs.url));
  });
  afterAll(async () => {
    await Promise.all([promEu?.stop(), promUs?.stop()]);
    await Promise.all([eu?.close(), us?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('each SLO reads the endpoint its DataSource names; quench validate accepts the files', async () => {
    let out = '';
    let err = '';
    const io = { stdout: (t: string) => (out += t), stderr: (t: string) => (err += t), env: { QUENCH_SLO_DIR: dir } };
    expect(await runCli(['validate', dir], io), err).toBe(0);
    const ratio = (s: SloStatus | undefined) => (s?.burnRates['5m'] ?? Number.NaN) * 0.05;
    let slos: SloStatus[] = [];
    for (const deadline = Date.now() + 45_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 500))) {
      out = '';
      expect(await runCli(['slo', 'status', '--local', '--json'], io), err).toBe(0);
      slos = (JSON.parse(out) as { slos: SloStatus[] }).slos;
      const by = (n: string) => slos.find((s) => s.name === n);
      if (Math.abs(ratio(by('api-eu')) - 0.01) < 1e-6 && Math.abs(ratio(by('api-us')) - 0.1) < 1e-6) break;
    }
    const by = (n: string) => slos.find((s) => s.name === n)!;
    expect(by('api-eu').state).toBe('ok');
    expect(ratio(by('api-eu'))).toBeCloseTo(0.01, 6);
    expect(by('api-us').state).toBe('ok');
    expect(ratio(by('api-us'))).toBeCloseTo(0.1, 6);
    expect(by('api-default')).toMatchObject({ state: 'not_evaluated', error: expect.stringContaining('set PROMETHEUS_URL') });
  }, 90_000);
});
