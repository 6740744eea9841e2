import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { formatProblem } from '../../../src/definitions/problem.js';
import { parseYamlSource } from '../../../src/definitions/source.js';
import { windowExpressions } from '../../../src/slo/core/promql.js';
import { rulesFile } from '../../../src/slo/core/rules.js';
import { importSlos, loadSlos } from '../../../src/slo/definitions.js';
import { pyrraWindows } from '../../../src/slo/formats/pyrra-import.js';

const pyrra = join(import.meta.dirname, '../../fixtures/pyrra');
const PROMTOOL = process.env.PROMTOOL_BIN || '/usr/bin/promtool';
const H = 3_600_000;
const M = 60_000;
const importText = (text: string) => importSlos(parseYamlSource('p.yaml', text).documents);
const messages = (text: string) => importText(text).problems.map(formatProblem);
const slo = (spec: string, meta = '') => `apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata:
  name: api-errors
  namespace: shop${meta}
spec:
${spec}`;
const ratio = `  target: "99.5"
  window: 4w
  indicator:
    ratio:
      errors: { metric: 'http_requests_total{code=~"5.."}' }
      total: { metric: http_requests_total }
`;

describe("Pyrra's ServiceLevelObjective (pyrra.dev/v1alpha1)", () => {
  it("every one of Pyrra's example sets loads (grouping is a warning)", () => {
    for (const dir of ['examples', 'kubernetes', 'openshift', 'mimir', 'native']) {
      const { slos, problems } = loadSlos([join(pyrra, dir)]);
      expect(problems.filter((p) => p.severity === 'error'), dir).toEqual([]);
      expect(slos.length, dir).toBeGreaterThan(0);
      for (const p of problems) expect(p.message).toMatch(/grouping: Pyrra keeps one error budget per/);
    }
  });

  it("Pyrra's windows: four burn rates scaled to the SLO window (28d: 1h/5m ×14, 6h/30m ×7, 1d/2h ×2, 4d/6h ×1)", () => {
    expect(pyrraWindows(28 * 24 * H)).toEqual([
      { severity: 'page', forMs: 2 * M, longMs: H, shortMs: 5 * M, factor: 14 },
      { severity: 'page', forMs: 15 * M, longMs: 6 * H, shortMs: 30 * M, factor: 7 },
      { severity: 'ticket', forMs: H, longMs: 24 * H, shortMs: 2 * H, factor: 2 },
      { severity: 'ticket', forMs: 3 * H, longMs: 96 * H, shortMs: 6 * H, factor: 1 },
    ]);
    // 2 weeks: 2.5 minutes round to 3 (Go's Duration.Round rounds halves away from zero).
    expect(pyrraWindows(14 * 24 * H)[0]).toMatchObject({ longMs: 30 * M, shortMs: 3 * M, forMs: M });
  });

  it('maps ratio, latency and bool_gauge indicators onto event SLIs, target and window as Pyrra reads them', () => {
    const { slos, problems } = loadSlos([join(pyrra, 'examples')]);
    expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
    const by = (n: string) => slos.find((s) => s.name === n)!;
    expect(by('caddy-response-latency')).toMatchObject({
      objective: 0.9,
      window: { kind: 'rolling', ms: 28 * 24 * H },
      sli: { kind: 'events', goodQuery: expect.stringContaining('le="0.05"'), totalQuery: expect.stringContaining('_count{') },
      origin: { format: 'pyrra' },
      rules: { alertName: 'ErrorBudgetBurn', alertLabels: { page: { severity: 'critical' }, ticket: { severity: 'warning' } } },
    });
    expect(by('thanos-store')).toMatchObject({ service: 'monitoring', objective: 0.995, window: { ms: 7 * 24 * H } });
    // A bare counter selector is increased over each window by Quench's PromQL.
    expect(windowExpressions(by('pyrra-filesystem-errors').sli, { method: 'occurrences' }, H).parts.total).toBe(
      'sum(sum(increase(pyrra_filesystem_reconciles_total[1h])))',
    );
    expect(by('prometheus-blackbox-probe-success').sli).toEqual({
      kind: 'events',
      source: 'prometheus',
      goodQuery: 'sum(sum_over_time(probe_success[{{window}}]))',
      totalQuery: 'sum(count_over_time(probe_success[{{window}}]))',
    });
    // pyrra.dev/ labels are propagated without their prefix, as Pyrra does; others are Kubernetes' own.
    expect(by('parca-grpc-queryrange-errors').labels).toEqual({ team: 'parca' });
    const native = loadSlos([join(pyrra, 'native')]).slos[0]!;
    expect(native.sli).toMatchObject({ goodQuery: expect.stringMatching(/^histogram_fraction\(0, 0\.2, sum\(increase\(connect_server_requests_duration_seconds/) });
  });

  it('mistakes are located: target, window, an unknown key, severities Quench cannot split; no-effect fields warn', () => {
    expect(messages(slo(ratio.replace('"99.5"', '"99.5%"')))).toEqual([
      'p.yaml:7:3: target: expected a percentage above 0 and below 100 as a string, e.g. "99.9" (got "99.5%")',
    ]);
    expect(messages(slo(ratio.replace('4w', '1h')))).toEqual([
      "p.yaml:8:3: window: at least 1d (Pyrra's alert windows are a 672th of it and would round to nothing)",
    ]);
    expect(messages(slo(ratio.replace('    ratio:', '    ratoi:')))).toEqual([
      expect.stringMatching(/^p\.yaml:10:5: spec\.indicator\.ratoi: unknown field/),
      expect.stringMatching(/^p\.yaml:9:3: spec\.indicator: expected exactly one of ratio, latency, latencyNative or bool_gauge/),
    ]);
    expect(messages(slo(`${ratio}  alerting: { severities: { fastBurn: critical, mediumBurn: high } }\n`))).toEqual([
      'p.yaml:13:49: alerting.severities: fastBurn and mediumBurn form one page alert in Quench and must be equal',
    ]);
    const warned = importText(slo(`${ratio}  performanceOverAccuracy: true\n  alerting: { absent: true, burnrates: false }\n`));
    expect(warned.slos).toHaveLength(1);
    expect(warned.slos[0]!.alerting.tiers.page.enabled).toBe(false);
    expect(warned.problems.map(formatProblem)).toEqual([
      expect.stringMatching(/^p\.yaml:14:15: warning: alerting\.absent: Quench generates no metric-absent alert/),
      "p.yaml:13:3: warning: performanceOverAccuracy: steers Pyrra's own rule output only; it has no effect in Quench",
    ]);
    expect(importText(slo(ratio, '\n  annotations: { quench.dev/service: checkout }')).slos[0]!.service).toBe('checkout');
  });

  it.skipIf(!existsSync(PROMTOOL))("quench slo rules for every Pyrra and Sloth example set passes promtool check rules", () => {
    const dir = mkdtempSync(join(tmpdir(), 'quench-pyrra-rules-'));
    try {
      for (const set of ['pyrra/examples', 'pyrra/kubernetes', 'pyrra/native', 'sloth/examples', 'sloth/k8s', 'sloth/multifile']) {
        const { slos } = loadSlos([join(pyrra, '..', set)]);
        writeFileSync(join(dir, 'rules.yml'), stringify({ groups: rulesFile(slos).groups }, { lineWidth: 0 }));
        const r = spawnSync(PROMTOOL, ['check', 'rules', join(dir, 'rules.yml')], { encoding: 'utf8' });
        expect(`${r.stdout}${r.stderr}`, set).toContain('SUCCESS');
        expect(r.status, set).toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a target written as a ratio ("0.99") runs as Pyrra reads it, 0.99%, with a warning saying what to write', () => {
    const text = slo(ratio.replace('"99.5"', '"0.99"'));
    expect(messages(text)).toEqual(['p.yaml:7:3: warning: target: 0.99 is read as 0.99%: this field is a percentage (99.9 for 99.9%); for 99% write 99']);
    expect(importText(text).slos[0]!.objective).toBe(0.0099);
  });
});
