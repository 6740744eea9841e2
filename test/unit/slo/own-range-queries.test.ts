import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatProblem } from '../../../src/definitions/problem.js';
import { parseYamlSource } from '../../../src/definitions/source.js';
import { windowExpressions } from '../../../src/slo/core/promql.js';
import { importSlos } from '../../../src/slo/definitions.js';

/**
 * Most OpenSLO files found in the wild (blog posts, generated SLOs) write their queries as rates
 * over a range of their own, `sum(rate(x[5m]))`, and leave `counter` at its default. Such a
 * query is no counter: increase() over it counted dips as resets and read steady traffic as
 * no data.
 */
const PROMTOOL = process.env.PROMTOOL_BIN || '/usr/bin/promtool';
const H = 3_600_000;

const openSlo = (counter: string) => `apiVersion: openslo/v1
kind: SLO
metadata: { name: checkout }
spec:
  service: checkout
  indicator:
    metadata: { name: good-requests }
    spec:
      ratioMetric:
        ${counter}
        bad: { metricSource: { type: Prometheus, spec: { query: 'sum(rate(http_requests_total{code=~"5.."}[5m]))' } } }
        total: { metricSource: { type: Prometheus, spec: { query: 'sum(rate(http_requests_total[5m]))' } } }
  timeWindow: [{ duration: 28d, isRolling: true }]
  budgetingMethod: Occurrences
  objectives: [{ target: 0.999 }]
`;

const quench = `apiVersion: quench/v1
kind: SLO
metadata: { name: checkout }
service: checkout
objective: 99.9
window: 28d
sli:
  events:
    errorQuery: sum(rate(http_requests_total{code=~"5.."}[5m]))
    totalQuery: sum(rate(http_requests_total[5m]))
`;

const load = (text: string) => importSlos(parseYamlSource('s.yaml', text).documents);

/** Evaluates expressions over series with `promtool test rules`; each expected value or nil. */
function promtoolEval(exprs: Array<{ expr: string; value: number | null }>): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'quench-own-range-'));
  try {
    const tests = exprs
      .map(
        (e) =>
          `      - expr: ${JSON.stringify(e.expr)}\n        eval_time: 2h\n        exp_samples:${e.value === null ? ' []' : `\n          - value: ${e.value}`}`,
      )
      .join('\n');
    // 95 good and 5 bad requests a minute for three hours: 5% errors, 6,000 requests an hour.
    writeFileSync(
      join(dir, 't.yml'),
      `rule_files: []\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n` +
        `      - series: 'http_requests_total{code="200"}'\n        values: '0+95x180'\n` +
        `      - series: 'http_requests_total{code="500"}'\n        values: '0+5x180'\n` +
        `    promql_expr_test:\n${tests}\n`,
    );
    const r = spawnSync(PROMTOOL, ['test', 'rules', join(dir, 't.yml')], { encoding: 'utf8' });
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('queries that read a range of their own (rate(x[5m]))', () => {
  it('are averaged over each window, never increase()d, in both formats; their events are rate × seconds', () => {
    for (const text of [openSlo(''), openSlo('counter: true'), quench]) {
      const { slos, problems } = load(text);
      expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
      const { parts, perSecond } = windowExpressions(slos[0]!.sli, slos[0]!.budgeting, H);
      expect(parts.total).toBe('sum(avg_over_time((sum(rate(http_requests_total[5m])))[1h:]))');
      expect(parts.errors).not.toContain('increase(');
      expect(perSecond).toBe(true);
    }
  });

  it('a bare counter is still increased, and a templated query rendered', () => {
    const { slos } = load(quench.replace('sum(rate(http_requests_total[5m]))', 'sum(http_requests_total)'));
    expect(windowExpressions(slos[0]!.sli, slos[0]!.budgeting, H).parts.total).toBe('sum(increase((sum(http_requests_total))[1h:]))');
    const templated = load(quench.replaceAll('[5m]', '[{{window}}]')).slos[0]!;
    expect(windowExpressions(templated.sli, templated.budgeting, H).parts.total).toBe('sum(sum(rate(http_requests_total[1h])))');
  });

  it('a range-looking text inside a label value is not a range', () => {
    const { slos } = load(quench.replace('sum(rate(http_requests_total[5m]))', 'sum(http_requests_total{path=~"/a[5m]"})'));
    expect(windowExpressions(slos[0]!.sli, slos[0]!.budgeting, H).parts.total).toContain('increase(');
  });

  it('an explicit counter: true on such a query is a warning saying how it is read', () => {
    const problems = load(openSlo('counter: true')).problems.map(formatProblem);
    expect(problems).toEqual([
      expect.stringMatching(/^s\.yaml:10:9: warning: counter: true, but the queries read a range of their own \(rate\(…\[5m\]\)\): .*; remove counter or set it to false$/),
    ]);
    expect(load(openSlo('')).problems).toEqual([]);
    expect(load(openSlo('counter: false')).problems).toEqual([]);
  });

  it.skipIf(!existsSync(PROMTOOL))('give the true error ratio and request count on steady traffic (Prometheus evaluates them)', () => {
    const { slos } = load(openSlo(''));
    const { parts } = windowExpressions(slos[0]!.sli, slos[0]!.budgeting, H);
    const r = promtoolEval([
      { expr: `(${parts.errors}) / (${parts.total} > 0)`, value: 0.05 },
      { expr: `(${parts.total}) * 3600`, value: 6000 },
    ]);
    expect(r.output).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });
});
