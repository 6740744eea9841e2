import { describe, expect, it } from 'vitest';
import { formatProblem } from '../../../src/definitions/problem.js';
import { parseYamlSource } from '../../../src/definitions/source.js';
import { windowExpressions } from '../../../src/slo/core/promql.js';
import { importSlos } from '../../../src/slo/definitions.js';

const importText = (text: string, file = 'w.yaml') => importSlos(parseYamlSource(file, text).documents);
const messages = (text: string) => importText(text).problems.map(formatProblem);

const quench = (sli: string, more = '', labels = '{ tier: "1" }') => `apiVersion: quench/v1
kind: SLO
metadata:
  name: lat
  labels: ${labels}
service: svc
objective: 99
sli:
  ${sli}
${more}`;
/** The selector as a YAML double-quoted scalar (JSON's escapes are YAML's). */
const latency = (selector: string) => quench(`latency: { histogram: http_request_duration_seconds, selector: ${JSON.stringify(selector)}, threshold: 0.3 }`);

describe('latency selector', () => {
  const queries = (selector: string) => {
    const { slos, problems } = importText(latency(selector));
    expect(problems).toEqual([]);
    const { parts } = windowExpressions(slos[0]!.sli, slos[0]!.budgeting, 300_000);
    return [parts.errors!, parts.total!];
  };

  it('is written with or without braces and gives the same well-formed PromQL', () => {
    const [errors, total] = queries('{job="x"}');
    expect(total).toBe('sum(sum(rate(http_request_duration_seconds_count{job="x"}[5m])))');
    expect(errors).toContain('http_request_duration_seconds_bucket{job="x",le=~"0\\\\.30*"}[5m]');
    expect(errors).not.toContain('{{');
    expect(queries('job="x"')).toEqual([errors, total]);
    expect(queries(' { job = "x" , } ')).toEqual([errors, total]);
  });

  it('an empty selector, with or without braces, selects the whole histogram', () => {
    expect(queries('{}')).toEqual(queries(''));
    expect(queries('')[1]).toBe('sum(sum(rate(http_request_duration_seconds_count{}[5m])))');
  });

  it("keeps every operator and PromQL's quoting: escapes, single quotes, raw strings", () => {
    const [, total] = queries('{job!="a\\"b",path=~"/api/\\\\d+",code!~`5..`,x=\'y\'}');
    expect(total).toContain('{job!="a\\"b",path=~"/api/\\\\d+",code!~`5..`,x=\'y\'}');
  });

  it('refuses a selector that names le (Quench sets it from threshold), at the field', () => {
    expect(messages(latency('job="x",le="0.5"'))).toEqual([
      'w.yaml:9:56: sli.latency.selector: le="0.5": the le label is Quench\'s: it matches the bucket of `threshold`; remove it and set threshold to the bucket boundary',
    ]);
    expect(messages(latency('{le=~"0.5"}'))[0]).toMatch(/^w\.yaml:9:56: sli\.latency\.selector: le=~"0\.5": the le label is Quench's/);
    expect(messages(latency('__name__="y"'))[0]).toMatch(/the metric comes from `histogram`/);
  });

  it('refuses what is not a list of label matchers, saying where and what was expected', () => {
    const problem = (selector: string) => messages(latency(selector))[0]?.replace(/^w\.yaml:9:56: sli\.latency\.selector: not a list of label matchers \([^)]*\): /, '');
    expect(problem('{{job="x"}}')).toBe("at character 2: expected a label name (letters, digits and _, not starting with a digit), found '{job=\"x\"}'");
    expect(problem('job="x" code="5"')).toBe('at character 9: expected "," between matchers, found \'code="5"\'');
    expect(problem('job=x')).toBe('at character 5: expected a quoted value ("…", \'…\' or `…`), found \'x\'');
    expect(problem('job=="x"')).toBe('at character 5: expected a quoted value ("…", \'…\' or `…`), found \'="x"\'');
    expect(problem('job="x')).toBe('at character 5: expected a closing " for the value starting here, found \'"x\'');
    expect(problem('job~"x"')).toBe("at character 4: expected one of =, !=, =~, !~, found '~\"x\"'");
    expect(problem('path=~"/a/\\d+"')).toMatch(/^at character 11: expected a PromQL escape/);
    expect(problem('job="x",,a="b"')).toMatch(/^at character 9: expected a label name/);
  });
});

describe('label values: scalars are their text where the upstream tool says so', () => {
  it("Sloth's victoria-metrics.yml labels (true, 0.2, 90) load as Sloth writes them", () => {
    // examples/victoria-metrics.yml of slok/sloth, without its slo_plugins (Go code, refused on their own).
    const { slos, problems } = importText(`version: prometheus/v1
service: foo-bar
labels:
  owner: foo
  generated: true
slos:
- name: grpc-latency-percentile-90
  objective: 90
  labels:
    actual_grade: A
    actual_le: 0.2
  sli:
    events:
      error_query: 1 - histogram_share(0.2, sum by (vmrange) (rate(requests_duration_seconds_bucket{container_name="foo-bar-grpc"}[{{.window}}])))
      total_query: vector(1)[{{.window}}]
  alerting:
    name: slo_foo-bar_grpc-latency-percentile-90_fail
    labels:
      objective: 90
      objective_reversed: 10
    page_alert: { labels: { urgent: false } }
`);
    expect(problems).toEqual([]);
    expect(slos[0]!.labels).toEqual({ owner: 'foo', generated: 'true', actual_grade: 'A', actual_le: '0.2' });
    expect(slos[0]!.rules!.alertLabels!.page).toMatchObject({ objective: '90', objective_reversed: '10', urgent: 'false' });
  });

  it('Sloth: labels {tier: 2, critical: true} are accepted; a mapping, list or empty value is refused, at its key', () => {
    const spec = (labels: string) => `version: prometheus/v1
service: svc
labels: ${labels}
slos:
  - name: avail
    objective: 99
    sli: { raw: { error_ratio_query: 'r[{{.window}}]' } }
`;
    expect(importText(spec('{ tier: 2, critical: true }')).slos[0]!.labels).toEqual({ tier: '2', critical: 'true' });
    expect(messages(spec('{ tier: { a: 1 }, x: [1], y: , z: .inf }'))).toEqual([
      'w.yaml:3:11: labels.tier: expected a label value: text, a number or a boolean (taken as its text), not a mapping',
      'w.yaml:3:27: labels.x: expected a label value: text, a number or a boolean (taken as its text), not a list',
      'w.yaml:3:35: labels.y: expected a label value: text, a number or a boolean (taken as its text), not null (an empty value)',
      'w.yaml:3:40: labels.z: expected a label value: text, a number or a boolean (taken as its text), not Infinity',
    ]);
  });

  it('Kubernetes resources (Sloth CRD, Pyrra) keep string values, as the API server does, and say to quote', () => {
    const crd = `apiVersion: sloth.slok.dev/v1
kind: PrometheusServiceLevel
metadata: { name: x }
spec:
  service: svc
  labels: { tier: 2 }
  slos:
    - name: avail
      objective: 99
      sli: { raw: { errorRatioQuery: 'r[{{.window}}]' } }
`;
    expect(messages(crd)).toEqual([
      'w.yaml:6:13: spec.labels.tier: expected a string: Kubernetes label and annotation values are strings; quote it ("2")',
    ]);
    const pyrra = `apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata:
  name: api
  labels: { pyrra.dev/team: true }
spec:
  target: "99.5"
  window: 4w
  indicator: { ratio: { errors: { metric: 'e{code="5"}' }, total: { metric: e } } }
`;
    expect(messages(pyrra)).toEqual([
      'w.yaml:5:13: metadata.labels.pyrra.dev/team: expected a string: Kubernetes label and annotation values are strings; quote it ("true")',
    ]);
  });

  it("OpenSLO and Quench's own format take numbers and booleans as their text (OpenSLO lists comma-joined)", () => {
    expect(importText(quench(`raw: { errorRatioQuery: 'r[{{window}}]' }`, '', '{ tier: 2, critical: true, team: a }')).slos[0]!.labels).toEqual({
      tier: '2',
      critical: 'true',
      team: 'a',
    });
    expect(messages(quench(`raw: { errorRatioQuery: 'r[{{window}}]' }`, '', '{ tier: [1] }'))).toEqual([
      'w.yaml:5:13: metadata.labels.tier: expected a label value: text, a number or a boolean (taken as its text), not a list',
    ]);
    const openslo = `apiVersion: openslo/v1
kind: SLO
metadata:
  name: api
  labels: { tier: 2, critical: true, regions: [eu, 1] }
spec:
  service: api
  indicator:
    metadata: { name: ratio }
    spec: { ratioMetric: { counter: true, good: { metricSource: { type: Prometheus, spec: { query: g } } }, total: { metricSource: { type: Prometheus, spec: { query: t } } } } }
  timeWindow: [{ duration: 28d, isRolling: true }]
  budgetingMethod: Occurrences
  objectives: [{ target: 0.99 }]
`;
    const { slos, problems } = importText(openslo);
    expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(slos[0]!.labels).toEqual({ tier: '2', critical: 'true', regions: 'eu,1' });
  });
});

describe('messages that name the field and what is accepted', () => {
  it('a bad alert window names the entry and field, not "alerting.windows: Invalid input"', () => {
    const windows = (entries: string) =>
      messages(quench(`raw: { errorRatioQuery: 'r[{{window}}]' }`, `alerting:\n  windows:\n${entries}`));
    expect(windows('    - { severity: page, long: 1h, short: 5m, factor: .inf }\n    - { severity: warn, long: 6h, short: 30m, factor: 6 }\n')).toEqual([
      'w.yaml:12:46: alerting.windows.0.factor: expected a burn-rate factor: a finite number above 0, e.g. 14.4',
      'w.yaml:13:9: alerting.windows.1.severity: expected page or ticket',
    ]);
    expect(windows('    - { severity: page, long: 1h, short: 5m, factor: -2 }\n')).toEqual([
      'w.yaml:12:46: alerting.windows.0.factor: expected a burn-rate factor: a finite number above 0, e.g. 14.4',
    ]);
    expect(messages(quench(`raw: { errorRatioQuery: 'r[{{window}}]' }`, 'alerting: { windows: defualt }'))).toEqual([
      "w.yaml:10:13: alerting.windows: expected default (the period's catalog) or a list of windows, each {severity: page|ticket, long, short, factor or budgetPercent}",
    ]);
  });

  it('an OpenSLO target outside (0, 1) is explained for the value written', () => {
    const target = (objective: string) =>
      messages(`apiVersion: openslo/v1
kind: SLO
metadata: { name: api }
spec:
  service: api
  indicator:
    metadata: { name: ratio }
    spec: { ratioMetric: { good: { metricSource: { type: Prometheus, spec: { query: g } } }, total: { metricSource: { type: Prometheus, spec: { query: t } } } } }
  timeWindow: [{ duration: 28d, isRolling: true }]
  budgetingMethod: Occurrences
  objectives:
    - ${objective}
`).filter((m) => !m.includes('warning'));
    expect(target('target: 0')).toEqual([
      'w.yaml:12:7: target: 0: expected a ratio above 0 and below 1 (0.999 is 99.9%); a 0% target allows every event to fail, so there is nothing to keep',
    ]);
    expect(target('target: 1')).toEqual(['w.yaml:12:7: target: 1: expected a ratio above 0 and below 1 (0.999 is 99.9%); a 100% target leaves no error budget']);
    expect(target('target: 99.9')).toEqual([
      'w.yaml:12:7: target: 99.9: expected a ratio above 0 and below 1 (0.999 is 99.9%); for 99.9% write target: 0.999 or targetPercent: 99.9',
    ]);
    expect(target('targetPercent: 0')[0]).toMatch(/targetPercent: 0: expected a percentage above 0 and below 100; a 0% target allows every event to fail/);
    expect(target('targetPercent: 100')[0]).toMatch(/targetPercent: 100: expected a percentage above 0 and below 100; a 100% target leaves no error budget/);
  });
});
