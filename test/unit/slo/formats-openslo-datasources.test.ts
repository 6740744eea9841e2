import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/main.js';
import { formatProblem } from '../../../src/definitions/problem.js';
import { parseYamlSource } from '../../../src/definitions/source.js';
import { importSlos } from '../../../src/slo/definitions.js';

const importText = (text: string) => importSlos(parseYamlSource('o.yaml', text).documents);

const dataSource = (name: string, type: string, details: string) => `apiVersion: openslo/v1
kind: DataSource
metadata: { name: ${name} }
spec:
  type: ${type}
${details}---
`;
const slo = (good: string, total = good, policies = '') => `apiVersion: openslo/v1
kind: SLO
metadata: { name: api }
spec:
  service: api
  budgetingMethod: Occurrences
  timeWindow: [{ duration: 28d, isRolling: true }]
  objectives: [{ target: 0.99 }]
  indicator:
    spec:
      ratioMetric:
        good: { metricSource: { metricSourceRef: ${good}, spec: { query: 'sum(rate(ok_total[{{window}}]))' } } }
        total: { metricSource: { metricSourceRef: ${total}, spec: { query: 'sum(rate(all_total[{{window}}]))' } } }
${policies}`;

describe('OpenSLO DataSource connectionDetails', () => {
  it('the referenced DataSource gives the SLO its endpoint: URL (API suffix trimmed), Mimir tenant as X-Scope-OrgID', () => {
    const r = importText(
      dataSource('mimir-eu', 'Mimir', '  connectionDetails:\n    url: https://mimir.example:8080/prometheus/api/v1/\n    tenant: team-a\n') + slo('mimir-eu'),
    );
    expect(r.problems).toEqual([]);
    expect(r.slos[0]!.dataSource).toEqual({
      name: 'mimir-eu',
      type: 'Mimir',
      url: 'https://mimir.example:8080/prometheus',
      headers: { 'X-Scope-OrgID': 'team-a' },
    });
  });

  it('without connectionDetails the SLO reads PROMETHEUS_URL as before', () => {
    const r = importText(dataSource('prom', 'Prometheus', '') + slo('prom'));
    expect(r.problems).toEqual([]);
    expect(r.slos[0]!.dataSource).toBeUndefined();
  });

  it('bad connection details and one indicator over two endpoints are errors at their field', () => {
    const noUrl = importText(dataSource('prom', 'Thanos', '  connectionDetails: { address: prom:9090 }\n') + slo('prom'));
    expect(noUrl.slos).toEqual([]);
    expect(noUrl.problems.map(formatProblem)).toEqual(['o.yaml:6:3: spec.connectionDetails.url: required (expected string)']);
    const badUrl = importText(dataSource('prom', 'Prometheus', '  connectionDetails: { url: prom:9090 }\n') + slo('prom'));
    expect(badUrl.problems.map(formatProblem)).toEqual([
      'o.yaml:6:24: spec.connectionDetails.url: expected the http(s) base URL of the Prometheus API, e.g. http://prometheus-eu:9090',
    ]);
    const two = importText(
      dataSource('a', 'Prometheus', '  connectionDetails: { url: "http://a:9090" }\n') +
        dataSource('b', 'Prometheus', '  connectionDetails: { url: "http://b:9090" }\n') +
        slo('a', 'b'),
    );
    expect(two.slos).toEqual([]);
    expect(two.problems.map(formatProblem)).toEqual([
      'o.yaml:27:34: the metrics of one indicator read different endpoints (a and b): Quench reads an SLI with one query, so point them at one DataSource',
    ]);
    const other = importText(dataSource('dd', 'Datadog', '  connectionDetails: { url: "http://dd" }\n') + slo('dd'));
    expect(other.problems.map((p) => p.message)).toEqual([expect.stringMatching(/^unsupported metric source type Datadog/)]);
  });

  it('a metricSource whose type contradicts its DataSource\'s is an error at the type, not a puzzle about the DataSource\'s connectionDetails', () => {
    const text = dataSource('dd', 'Datadog', '  connectionDetails: { apiKey: x }\n') + slo('dd').replaceAll('metricSourceRef: dd,', 'metricSourceRef: dd, type: Prometheus,');
    const r = importText(text);
    expect(r.slos).toEqual([]);
    expect(r.problems.map(formatProblem)).toEqual([
      'o.yaml:19:54: metricSource type Prometheus differs from the type of DataSource dd (Datadog): give one of them, or the same',
      'o.yaml:20:55: metricSource type Prometheus differs from the type of DataSource dd (Datadog): give one of them, or the same',
    ]);
  });
});

describe('accepted fields without effect are quench validate warnings', () => {
  const policies = `  alertPolicies:
    - kind: AlertPolicy
      metadata: { name: fast }
      spec:
        alertWhenNoData: true
        alertWhenResolved: false
        notificationTargets: [{ targetRef: oncall }]
        conditions:
          - kind: AlertCondition
            metadata: { name: fast }
            spec: { severity: page, condition: { kind: burnrate, op: gt, threshold: 14, lookbackWindow: 1h } }
---
apiVersion: openslo/v1
kind: AlertNotificationTarget
metadata: { name: oncall }
spec: { target: slack, description: the on-call channel }
`;
  const text = dataSource('prom', 'Prometheus', '') + slo('prom', 'prom', policies);

  it('each is a located warning; the SLO still loads', () => {
    const r = importText(text);
    expect(r.slos).toHaveLength(1);
    expect(r.problems.map(formatProblem)).toEqual([
      expect.stringMatching(/^o\.yaml:33:1: warning: AlertNotificationTarget has no effect/),
      expect.stringMatching(/^o\.yaml:24:9: warning: alertWhenNoData has no effect: Quench never alerts on missing data/),
      expect.stringMatching(/^o\.yaml:25:9: warning: alertWhenResolved: false has no effect/),
      expect.stringMatching(/^o\.yaml:26:9: warning: notificationTargets have no effect/),
    ]);
  });

  it('quench validate exits 0, prints them as file:line:col: warning:, and --json lists them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quench-warn-'));
    try {
      writeFileSync(join(dir, 'api.yaml'), text);
      let out = '';
      const io = { stdout: (t: string) => (out += t), stderr: () => {}, env: { QUENCH_DATA_DIR: 'memory://' } };
      expect(await runCli(['validate', dir], io)).toBe(0);
      expect(out).toContain(`${join(dir, 'api.yaml')}:24:9: warning: alertWhenNoData has no effect`);
      out = '';
      expect(await runCli(['validate', dir, '--json'], io)).toBe(0);
      const report = JSON.parse(out) as { valid: boolean; warnings: number; problems: Array<{ severity: string; line: number; message: string }> };
      expect(report).toMatchObject({ valid: true, warnings: 4 });
      expect(report.problems.find((p) => p.message.startsWith('alertWhenNoData'))).toMatchObject({ severity: 'warning', line: 24 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
