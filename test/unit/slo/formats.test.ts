import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/main.js';
import { formatProblem } from '../../../src/definitions/problem.js';
import { parseYamlSource, readYamlFile } from '../../../src/definitions/source.js';
import { windowExpressions } from '../../../src/slo/core/promql.js';
import { importSlos, loadSlos } from '../../../src/slo/definitions.js';

const fixtures = join(import.meta.dirname, '../../fixtures');
const openslo = join(fixtures, 'openslo');

function importText(text: string, file = 'x.yaml') {
  return importSlos(parseYamlSource(file, text).documents);
}

async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), env: { QUENCH_DATA_DIR: 'memory://', ...env } });
  return { code, out, err };
}

describe('public OpenSLO v1 examples', () => {
  const files = readdirSync(openslo).filter((f) => f.endsWith('.yaml'));

  it.each(files)('%s validates (exit 0) with `quench validate`', async (file) => {
    const r = await cli(['validate', join(openslo, file)]);
    expect(r.out.split('\n').filter((l) => l && !l.includes(': warning: '))).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('all of them validate together: multi-objective budgets get distinct names', async () => {
    const r = await cli(['validate', openslo]);
    expect(r.code).toBe(0);
    const { slos } = loadSlos([openslo]);
    expect(slos.map((s) => s.name).sort()).toEqual([
      'main-page',
      'search-slo',
      'service-availability',
      'service-availability.internal-objective',
      'service-availability.sla',
    ]);
  });

  it('imports the multi-objective Timeslices example as one budget per objective', () => {
    const { slos, problems } = loadSlos([join(openslo, 'examples_budgeting-method_timeslices-slo.yaml')]);
    expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(slos.map((s) => [s.name, s.objective])).toEqual([
      ['service-availability.internal-objective', 0.995],
      ['service-availability.sla', 0.99],
    ]);
    expect(slos[0]!.budgeting).toEqual({ method: 'timeslices', sliceMs: 60_000, sliceTarget: 0.99 });
    // startTime without a zone is wall-clock time in timeZone; `1m` is read as a month, with a warning.
    expect(slos[0]!.window).toEqual({ kind: 'calendar', unit: 'M', count: 1, timeZone: 'America/New_York', anchor: '2022-01-01 12:00:00' });
    expect(problems.some((p) => p.severity === 'warning' && p.message.includes('1m means minutes'))).toBe(true);
  });

  it('tolerates an empty alertPolicies and keeps the threshold of a thresholdMetric', () => {
    const { slos } = loadSlos([join(openslo, 'examples_budgeting-method_occurences-slo.yaml')]);
    expect(slos).toHaveLength(1);
    expect(slos[0]!.window).toEqual({ kind: 'rolling', ms: 14 * 86_400_000 });
    expect(slos[0]!.alerting.windows.map((w) => w.severity)).toEqual(['page', 'page', 'ticket', 'ticket']);
    // type: Any is the spec's placeholder: valid, not evaluated.
    expect(slos[0]!.sli.kind).toBe('unevaluable');
  });
});

describe('users’ files', () => {
  it('a Sloth-style OpenSLO file (YAML list, {{.window}}, inline alert policy) imports', () => {
    const { slos, problems } = loadSlos([join(fixtures, 'slo/sloth-style.yaml')]);
    expect(problems).toEqual([]);
    const [slo] = slos;
    expect(slo!.name).toBe('myservice-requests-availability');
    expect(slo!.labels).toEqual({ owner: 'myteam', tier: '2,critical-path' });
    expect(slo!.alerting.windows).toEqual([
      { severity: 'page', longMs: 3_600_000, shortMs: 300_000, factor: 14.4 },
      // op: gte is kept: the burn may equal the threshold (issue 11, point 11).
      { severity: 'page', longMs: 21_600_000, shortMs: 1_800_000, factor: 6, op: 'gte' },
    ]);
    expect(slo!.alerting.tiers.page.forMs).toBe(300_000);
    expect(slo!.alerting.tiers.ticket.enabled).toBe(false);
    const { parts, perSecond } = windowExpressions(slo!.sli, slo!.budgeting, 300_000);
    expect(parts.errors).toBe(
      '(sum(sum(rate(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}[5m]))) or (sum(sum(rate(http_request_duration_seconds_count{job="myservice"}[5m]))) * 0))',
    );
    expect(perSecond).toBe(true);
  });

  it('a Pyrra-style file (plain counter selectors, targetPercent, refs, raw ratio, calendar week) imports', () => {
    const { slos, problems } = loadSlos([join(fixtures, 'slo/pyrra-style.yaml')]);
    expect(problems).toEqual([]);
    expect(slos.map((s) => s.name)).toEqual(['api-errors', 'api-latency', 'login-success']);
    expect(slos[0]!.objective).toBeCloseTo(0.995, 12);
    const api = windowExpressions(slos[0]!.sli, slos[0]!.budgeting, 3_600_000);
    expect(api.parts.total).toBe('sum(sum(increase(http_requests_total{job="api"}[1h])))');
    expect(api.parts.errors).toContain('or vector(0)');
    expect(slos[2]!.sli).toEqual({ kind: 'raw', source: 'prometheus', errorRatioQuery: '(1 - (job:login_success:ratio_rate5m))' });
    expect(slos[2]!.window).toMatchObject({ kind: 'calendar', unit: 'w', anchor: '2024-01-01T00:00:00' });
  });

  it('the example SLOs in slo/ validate', async () => {
    const r = await cli(['validate', join(import.meta.dirname, '../../../slo')]);
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('real-world leniency', () => {
  it('accepts a single timeWindow mapping, lower-case budgetingMethod and gives 99.9% as exactly 0.999', () => {
    const { slos, problems } = importText(`apiVersion: openslo/v1
kind: SLO
metadata: { name: lenient }
spec:
  service: web
  indicator:
    spec:
      ratioMetric:
        bad: { metricSource: { type: prometheus, spec: { promql: 'sum(rate(e[{{window}}]))' } } }
        total: { metricSource: { type: prometheus, spec: { expr: 'sum(rate(t[{{window}}]))' } } }
  timeWindow: { duration: 7d, isRolling: true }
  budgetingMethod: occurrences
  objectives: [{ targetPercent: 99.9 }]
  alertPolicies: []
`);
    expect(problems).toEqual([]);
    expect(slos[0]).toMatchObject({
      objective: 0.999,
      window: { kind: 'rolling', ms: 7 * 86_400_000 },
      budgeting: { method: 'occurrences' },
    });
    expect(slos[0]!.sli).toMatchObject({ kind: 'events', errorQuery: 'sum(rate(e[{{window}}]))', totalQuery: 'sum(rate(t[{{window}}]))' });
  });

  it('an SLO without budgetingMethod (as the spec README\'s own example) is told the field is required, once', () => {
    const problems = importText(`apiVersion: openslo/v1
kind: SLO
metadata: { name: no-method }
spec:
  service: web
  indicator:
    spec:
      ratioMetric:
        good: { metricSource: { type: Prometheus, spec: { query: 'sum(ok_total)' } } }
        total: { metricSource: { type: Prometheus, spec: { query: 'sum(all_total)' } } }
  timeWindow: [{ duration: 28d, isRolling: true }]
  objectives:
    - target: 0.98
`).problems.map(formatProblem);
    expect(problems).toEqual(['x.yaml:4:1: spec.budgetingMethod: required (Occurrences, Timeslices or RatioTimeslices)']);
  });

  it('a timeSliceWindow that is no duration is named as such, not reported missing', () => {
    const problems = importText(`apiVersion: openslo/v1
kind: SLO
metadata: { name: slices }
spec:
  service: web
  indicator:
    spec:
      ratioMetric:
        good: { metricSource: { type: Prometheus, spec: { query: 'sum(ok_total)' } } }
        total: { metricSource: { type: Prometheus, spec: { query: 'sum(all_total)' } } }
  timeWindow: [{ duration: 28d, isRolling: true }]
  budgetingMethod: RatioTimeslices
  objectives:
    - target: 0.99
      timeSliceWindow: 5min
`).problems.map(formatProblem);
    expect(problems).toEqual(['x.yaml:15:7: timeSliceWindow: 5min is not a duration: write it as 30s, 1m or 5m (a number is minutes)']);
  });

  it('an SLO without timeWindow (optional in the spec, left out by OpenSLO/go-sdk\'s own test data) is 30 days rolling, with a warning', () => {
    const { slos, problems } = importText(`apiVersion: openslo/v1
kind: SLO
metadata:
  name: foo-slo
  displayName: Foo SLO
spec:
  budgetingMethod: Occurrences
  service: foo
  indicator:
    metadata: { name: good }
    spec:
      ratioMetric:
        counter: true
        good: { metricSource: { type: Prometheus, spec: { query: 'http_requests_total{status_code="200"}' } } }
        total: { metricSource: { type: Prometheus, spec: { query: 'http_requests_total{}' } } }
  objectives:
    - displayName: Foo Availability
      target: 0.98
`);
    expect(problems.map(formatProblem)).toEqual([
      'x.yaml:6:1: warning: spec.timeWindow: not given: read as 30 days rolling (Quench\'s default period); write timeWindow: [{ duration: 30d, isRolling: true }] to say so',
    ]);
    expect(slos[0]).toMatchObject({ name: 'foo-slo', objective: 0.98, window: { kind: 'rolling', ms: 30 * 86_400_000 } });
  });
});

describe('Quench format', () => {
  it('imports a latency SLI over histogram buckets, a calendar month and custom windows', () => {
    const { slos, problems } = importText(`apiVersion: quench/v1
kind: SLO
metadata: { name: lat }
service: web
objective: 99.5
window: { calendar: month, timeZone: Europe/Berlin }
budgeting: { method: timeslices, sliceLength: 5m, sliceTarget: 95 }
sli: { latency: { histogram: http_request_duration_seconds, selector: 'job="web"', threshold: 1 } }
alerting:
  windows:
    - { severity: page, long: 1h, short: 5m, budgetPercent: 2 }
    - { severity: ticket, long: 3d, short: 6h, factor: 1 }
`);
    expect(problems).toEqual([]);
    const slo = slos[0]!;
    expect(slo.window).toEqual({ kind: 'calendar', unit: 'M', count: 1, timeZone: 'Europe/Berlin' });
    expect(slo.budgeting).toEqual({ method: 'timeslices', sliceMs: 300_000, sliceTarget: 0.95 });
    expect(slo.alerting.windows.map((w) => w.factor)).toEqual([expect.closeTo(14.4, 9), 1]);
    expect(slo.sli).toMatchObject({
      kind: 'events',
      goodQuery: 'sum(rate(http_request_duration_seconds_bucket{job="web",le=~"1(\\\\.0+)?"}[{{window}}]))',
    });
  });

  it('a short window must be shorter than its long window', () => {
    const { problems } = importText(`apiVersion: quench/v1
kind: SLO
metadata: { name: w }
service: web
objective: 99
sli: { raw: { errorRatioQuery: x } }
alerting:
  windows:
    - { severity: page, long: 5m, short: 1h, factor: 10 }
`);
    expect(problems.map((p) => [p.line, p.message])).toEqual([[9, 'the short window must be shorter than the long window']]);
  });

  it('a window or budgeting of the wrong shape says what is expected, and a histogram named with _bucket is refused', () => {
    const doc = (more: string, sli = 'sli: { raw: { errorRatioQuery: "x[{{window}}]" } }') => `apiVersion: quench/v1
kind: SLO
metadata: { name: shapes }
service: web
objective: 99.9
${more}
${sli}
`;
    const messages = (text: string) => importText(text).problems.map(formatProblem);
    expect(messages(doc('window: 30'))).toEqual([
      'x.yaml:6:1: window: expected a rolling window such as 30d or 4w, or { calendar: week|month|quarter|year, timeZone: Europe/Berlin }',
    ]);
    expect(messages(doc('budgeting: Timeslices'))).toEqual([
      'x.yaml:6:1: budgeting: expected occurrences or timeslices (lower-case), or { method: occurrences|timeslices|ratioTimeslices, sliceLength: 1m, sliceTarget: 99 }',
    ]);
    expect(messages(doc('', 'sli: { latency: { histogram: http_request_duration_seconds_bucket, threshold: 0.3 } }'))).toEqual([
      'x.yaml:7:19: sli.latency.histogram: http_request_duration_seconds_bucket: write the histogram\'s base name, http_request_duration_seconds (Quench reads its _bucket and _count series)',
    ]);
  });

  it('an objective or slice target written as a ratio (0.999, as OpenSLO writes it) is refused at its field, not read as 0.999%', () => {
    const { slos, problems } = importText(`apiVersion: quench/v1
kind: SLO
metadata: { name: ratio }
service: web
objective: 0.999
budgeting: { method: timeslices, sliceTarget: 0.95 }
sli: { raw: { errorRatioQuery: x } }
`);
    expect(slos).toEqual([]);
    expect(problems.map(formatProblem)).toEqual([
      'x.yaml:5:1: objective: 0.999 is read as 0.999%: this field is a percentage (99.9 for 99.9%); for 99.9% write 99.9',
      'x.yaml:6:34: budgeting.sliceTarget: 0.95 is read as 0.95%: this field is a percentage (99.9 for 99.9%); for 95% write 95',
    ]);
  });
});

describe('problems are located and all reported', () => {
  it('reports every problem of a broken file as file:line:col', async () => {
    const file = join(fixtures, 'slo/broken.yaml');
    const r = await cli(['validate', file]);
    expect(r.code).toBe(1);
    const lines = r.out.trim().split('\n');
    const at = (needle: string) => lines.find((l) => l.includes(needle))?.split(': ')[0];
    expect(at('unsupported metric source type Datadog in spec.indicator.spec.ratioMetric.good.metricSource.type')).toBe(`${file}:12:13`);
    expect(at('not 30 days')).toBe(`${file}:21:7`);
    expect(at('no SLI named missing-sli')).toBe(`${file}:33:3`);
    expect(at('target: 1.5: expected a ratio above 0 and below 1')).toBe(`${file}:39:7`);
    expect(at('timeSliceWindow is required')).toBeDefined();
    expect(at('windw: unknown field')).toBe(`${file}:59:1`);
    expect(at('sli.raw.errorRatioQuery: required')).toBe(`${file}:61:3`);
    expect(lines).toHaveLength(8);
  });

  it('a mistake inside an inline alert policy or condition is reported at its field, not as "Invalid input" for the whole policy', () => {
    const problems = importText(`apiVersion: openslo/v1
kind: SLO
metadata: { name: inline-policy }
spec:
  service: web
  indicator:
    spec:
      ratioMetric:
        good: { metricSource: { type: Prometheus, spec: { query: 'sum(ok_total)' } } }
        total: { metricSource: { type: Prometheus, spec: { query: 'sum(all_total)' } } }
  timeWindow: [{ duration: 28d, isRolling: true }]
  budgetingMethod: Occurrences
  objectives: [{ target: 0.999 }]
  alertPolicies:
    - kind: AlertPolicy
      metadata: { name: fast }
      spec:
        alertWhenNoData: "false"
        conditions:
          - kind: AlertCondition
            metadata: { name: fast }
            spec:
              severity: page
              condition: { kind: burnrate, op: gt, threshold: "14.4", lookbackWindow: 1h }
    - alertPolicyRef: 7
`).problems.map(formatProblem);
    expect(problems).toEqual([
      'x.yaml:18:9: spec.alertPolicies.0.spec.alertWhenNoData: Invalid input: expected boolean, received string',
      'x.yaml:24:52: spec.alertPolicies.0.spec.conditions.0.spec.condition.threshold: Invalid input: expected number, received string',
      'x.yaml:25:7: spec.alertPolicies.1.alertPolicyRef: Invalid input: expected string, received number',
    ]);
  });

  it('an SLO with both an inline indicator and an indicatorRef is refused at the reference, not read from one of them silently', () => {
    const problems = importText(`apiVersion: openslo/v1
kind: SLO
metadata: { name: both }
spec:
  service: web
  indicatorRef: other
  indicator:
    spec:
      ratioMetric:
        good: { metricSource: { type: Prometheus, spec: { query: 'sum(ok_total)' } } }
        total: { metricSource: { type: Prometheus, spec: { query: 'sum(all_total)' } } }
  timeWindow: [{ duration: 28d, isRolling: true }]
  budgetingMethod: Occurrences
  objectives: [{ target: 0.999 }]
`).problems.map(formatProblem);
    expect(problems).toEqual(['x.yaml:6:3: give one of indicator (inline) and indicatorRef (an SLI document), not both']);
  });

  it('duplicate SLO names are errors, across formats and files', () => {
    const quench = (name: string) => `apiVersion: quench/v1
kind: SLO
metadata: { name: ${name} }
service: s
objective: 99
sli: { raw: { errorRatioQuery: 'x' } }
`;
    const a = parseYamlSource('a.yaml', `${quench('dup')}---\n${quench('other')}`);
    const b = parseYamlSource(
      'b.yaml',
      `apiVersion: openslo/v1
kind: SLO
metadata:
  name: dup
spec:
  service: s
  indicator: { spec: { ratioMetric: { rawType: failure, raw: { metricSource: { type: Prometheus, spec: { query: x } } } } } }
  timeWindow: [{ duration: 28d, isRolling: true }]
  budgetingMethod: Occurrences
  objectives: [{ target: 0.99 }]
`,
    );
    const { slos, problems } = importSlos([...a.documents, ...b.documents]);
    expect(slos.map((s) => s.name)).toEqual(['dup', 'other']);
    expect(problems.map(formatProblem)).toEqual(['b.yaml:4:3: duplicate SLO name dup (first defined at a.yaml:3:13)']);
  });

  it('an unknown source type behind a DataSource reference names the reference field', () => {
    const { problems } = importText(`apiVersion: openslo/v1
kind: DataSource
metadata: { name: nr }
spec: { type: NewRelic }
---
apiVersion: openslo/v1
kind: SLI
metadata: { name: s }
spec:
  thresholdMetric:
    metricSource:
      metricSourceRef: nr
      spec: { nrql: SELECT 1 }
`);
    // No SLO uses the SLI: nothing to evaluate, nothing reported.
    expect(problems).toEqual([]);
    const withSlo = importText(`apiVersion: openslo/v1
kind: DataSource
metadata: { name: nr }
spec: { type: NewRelic }
---
apiVersion: openslo/v1
kind: SLO
metadata: { name: latency }
spec:
  service: web
  indicator:
    spec:
      thresholdMetric:
        metricSource:
          metricSourceRef: nr
  timeWindow: [{ duration: 1w, isRolling: true }]
  budgetingMethod: Occurrences
  objectives: [{ op: lt, value: 0.5, target: 0.9 }]
`);
    expect(withSlo.problems.map((p) => [p.line, p.message])).toEqual([
      [
        15,
        'unsupported metric source type NewRelic in spec.indicator.spec.thresholdMetric.metricSource.type: Quench evaluates Prometheus-compatible sources (Prometheus, Thanos, Mimir, Cortex) and synthetic ones',
      ],
    ]);
  });

  it('rejects older OpenSLO versions and unknown kinds clearly', () => {
    const { problems } = importText(
      'apiVersion: openslo/v1alpha\nkind: SLO\nmetadata: { name: a }\nspec: {}\n---\napiVersion: openslo/v1\nkind: Budget\nmetadata: { name: b }\nspec: {}\n',
    );
    expect(problems.map((p) => p.message)).toEqual([
      expect.stringContaining('apiVersion openslo/v1alpha is not supported'),
      expect.stringContaining('unknown OpenSLO kind Budget'),
    ]);
  });

  it('a YAML syntax error is located too', () => {
    const parsed = readYamlFile(join(fixtures, 'slo/does-not-exist.yaml'));
    expect(parsed.problems[0]!.message).toContain('cannot read');
  });
});

describe('window catalogs and alert fields (issue 11)', () => {
  const quenchSlo = (window: string, alerting = '') => `apiVersion: quench/v1
kind: SLO
metadata: { name: s }
service: svc
objective: 99.9
window: ${window}
sli: { events: { errorQuery: 'sum(rate(e[{{window}}]))', totalQuery: 'sum(rate(t[{{window}}]))' } }
${alerting}`;

  it('a period without a catalog is refused with the default windows, and accepted with its own list', () => {
    const refused = importText(quenchSlo('3d'));
    expect(refused.slos).toEqual([]);
    expect(refused.problems.map((p) => `${p.line}: ${p.message}`)).toEqual([
      expect.stringMatching(/^6: no burn-rate window catalog for this SLO window \(catalogs: 7d, 14d, 28d, 30d/),
    ]);
    const own = importText(
      quenchSlo('3d', 'alerting:\n  windows:\n    - { severity: page, long: 1h, short: 5m, budgetPercent: 10 }\n'),
    );
    expect(own.problems).toEqual([]);
    expect(own.slos[0]!.alerting.windows[0]!.factor).toBeCloseTo(7.2, 12);
    expect(importText(quenchSlo('3d', 'alerting: { enabled: false }\n')).problems).toEqual([]);
    expect(importText(quenchSlo('7d')).slos[0]!.alerting.windows.map((w) => w.factor)).toEqual([13.44, 3.5, 1.4, 0.98]);
  });

  it('OpenSLO without alert policies on a period without a catalog: a warning, and no burn alerts', () => {
    const r = importText(`apiVersion: openslo/v1
kind: SLO
metadata: { name: o }
spec:
  service: svc
  indicator:
    spec:
      ratioMetric:
        good: { metricSource: { type: Prometheus, spec: { query: good_total } } }
        total: { metricSource: { type: Prometheus, spec: { query: all_total } } }
  timeWindow: [{ duration: 3d, isRolling: true }]
  budgetingMethod: Occurrences
  objectives: [{ target: 0.99 }]
`);
    expect(r.problems.map((p) => [p.severity, p.message])).toEqual([['warning', expect.stringContaining('no burn-rate window catalog')]]);
    expect(r.slos[0]!.alerting.windows).toEqual([]);
  });

  it('time slices: a declared scrape interval makes each slice read two scrapes; without one, short slices warn (point 6)', () => {
    const slices = (sli: string) => `apiVersion: quench/v1
kind: SLO
metadata: { name: s }
service: svc
objective: 99
window: 30d
budgeting: { method: timeslices, sliceLength: 1m, sliceTarget: 95 }
sli: { ${sli}events: { errorQuery: 'sum(rate(e[{{window}}]))', totalQuery: 'sum(rate(t[{{window}}]))' } }
`;
    const declared = importText(slices('scrapeInterval: 1m, '));
    expect(declared.problems).toEqual([]);
    const slo = declared.slos[0]!;
    expect(slo.budgeting).toMatchObject({ sliceMs: 60_000, rangeMs: 120_000 });
    const { parts } = windowExpressions(slo.sli, slo.budgeting, 3_600_000);
    // Rates over 2m, one slice a minute.
    expect(parts.errors).toContain('rate(e[2m])');
    expect(parts.errors).toMatch(/\[3599999ms:1m\]\)$/);
    expect(importText(slices('scrapeInterval: 15s, ')).slos[0]!.budgeting).not.toHaveProperty('rangeMs');
    const undeclared = importText(slices(''));
    expect(undeclared.slos).toHaveLength(1);
    expect(undeclared.problems.map((p) => [p.severity, p.line])).toEqual([['warning', 7]]);
    expect(undeclared.problems[0]!.message).toContain('declare sli.scrapeInterval');
  });

  it('for: 0 may be written as a number', () => {
    const r = importText(quenchSlo('30d', 'alerting:\n  page: { for: 0 }\n'));
    expect(r.problems).toEqual([]);
    expect(r.slos[0]!.alerting.tiers.page.forMs).toBe(0);
  });
});
