import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatProblem } from '../../../src/definitions/problem.js';
import { parseYamlSource } from '../../../src/definitions/source.js';
import { rulesFor } from '../../../src/slo/core/rules.js';
import { importSlos, loadSlos } from '../../../src/slo/definitions.js';

const sloth = join(import.meta.dirname, '../../fixtures/sloth');
const importText = (text: string) => importSlos(parseYamlSource('s.yaml', text).documents);
const messages = (text: string) => importText(text).problems.map(formatProblem);

const spec = (slo: string, top = '') => `version: "prometheus/v1"
service: "svc"
labels: { team: a }
${top}slos:
${slo}`;
const events = `  - name: "avail"
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(x{code="500"}[{{.window}}]))
        total_query: sum(rate(x[{{.window}}]))
`;

describe("Sloth's own files (prometheus/v1 and the PrometheusServiceLevel CRD)", () => {
  it("Sloth's examples load as Sloth means them: <service>-<slo> names, 30-day window, merged labels, alert tiers", () => {
    const { slos, problems } = loadSlos([join(sloth, 'examples')]);
    expect(problems).toEqual([]);
    const byName = new Map(slos.map((s) => [s.name, s]));
    const gs = byName.get('myservice-requests-availability')!;
    expect(gs).toMatchObject({
      service: 'myservice',
      objective: 0.999,
      window: { kind: 'rolling', ms: 30 * 86_400_000 },
      labels: { owner: 'myteam', repo: 'myorg/myservice', tier: '2' },
      sli: { kind: 'events', errorQuery: expect.stringContaining('code=~"(5..|429)"') },
      origin: { format: 'sloth', line: 9, col: 5 },
      rules: {
        slo: 'requests-availability',
        spec: 'prometheus/v1',
        alertName: 'MyServiceHighErrorRate',
        alertLabels: {
          page: { category: 'availability', severity: 'pageteam', routing_key: 'myteam' },
          ticket: { category: 'availability', severity: 'slack', slack_channel: '#alerts-myteam' },
        },
      },
    });
    expect(gs.alerting.windows.map((w) => [w.severity, w.factor])).toEqual([
      ['page', 14.4],
      ['page', 6],
      ['ticket', 3],
      ['ticket', 1],
    ]);
    // Sloth's alerts have neither `for` nor a low-traffic guard.
    expect([gs.alerting.minEvents, gs.alerting.tiers.page.forMs]).toEqual([0, 0]);
    expect(byName.get('myapp-http-availability')!.alerting.tiers).toMatchObject({ page: { enabled: false }, ticket: { enabled: false } });
    expect(byName.get('home-wifi-wifi-client-satisfaction')!.sli.kind).toBe('raw');
    // The SLO's own labels override the service's.
    expect(byName.get('k8s-apiserver-requests-latency')!.labels).toEqual({ cluster: 'valhalla', component: 'kubernetes', category: 'latency' });
  });

  it('the CRD form (camelCase under spec) gives the same SLOs as the plain spec', () => {
    const crd = loadSlos([join(sloth, 'k8s/k8s-getting-started.yml')]);
    const plain = loadSlos([join(sloth, 'examples/getting-started.yml')]);
    expect(crd.problems).toEqual([]);
    const strip = (s: (typeof crd.slos)[number]) => ({ ...s, origin: undefined, rules: { ...s.rules, spec: undefined } });
    expect(crd.slos.map(strip)).toEqual(plain.slos.map(strip));
    expect(crd.slos[0]!.rules?.spec).toBe('sloth.slok.dev/v1');
    expect(loadSlos([join(sloth, 'multifile')]).slos.map((s) => s.name)).toEqual(['myservice-requests-availability', 'myservice2-requests-availability']);
  });

  it("a key in the other form's spelling (Sloth's own CRD example writes page_alert) names the key to write", () => {
    const file = join(sloth, 'k8s-spelling/plugin-k8s-getting-started.yml');
    // Before: 'unknown field (check the spelling; docs/slo.md lists the fields)'.
    expect(loadSlos([file]).problems.map(formatProblem)).toEqual([
      `${file}:39:9: spec.slos.0.alerting.page_alert: page_alert is the plain spec's spelling; the PrometheusServiceLevel CRD writes pageAlert (Kubernetes drops fields the CRD does not define, so Sloth never reads page_alert)`,
      `${file}:43:9: spec.slos.0.alerting.ticket_alert: ticket_alert is the plain spec's spelling; the PrometheusServiceLevel CRD writes ticketAlert (Kubernetes drops fields the CRD does not define, so Sloth never reads ticket_alert)`,
    ]);
    expect(messages(spec(`${events}    alerting:\n      pageAlert: { disable: true }\n`))).toEqual([
      expect.stringMatching(/^s\.yaml:\d+:\d+: slos\.0\.alerting\.pageAlert: pageAlert is the CRD's spelling; a prometheus\/v1 file writes page_alert$/),
    ]);
  });

  it("plugins (Go code run by Sloth) are refused at their field, with what to do", () => {
    const { slos, problems } = loadSlos([join(sloth, 'plugins')]);
    expect(slos).toEqual([]);
    const text = problems.map(formatProblem);
    expect(text).toContain(
      `${join(sloth, 'plugins/plugin-getting-started.yml')}:13:7: sli.plugin (getting_started_availability): Sloth SLI plugins are Go code that build the queries inside Sloth and cannot be mapped; write the queries they produce as sli.events (error_query, total_query) or sli.raw (error_ratio_query)`,
    );
    expect(text.filter((m) => m.includes('contrib-slo-plugins.yml') && m.includes(': plugins: Sloth SLO plugins'))).toHaveLength(2);
    expect(messages(spec(events, 'slo_plugins: { chain: [] }\n'))).toEqual([
      expect.stringMatching(/^s\.yaml:4:1: slo_plugins: Sloth SLO plugins are Go code/),
    ]);
  });

  it('mistakes are located at file:line:col: a misspelt key, objective 100, a query without {{.window}}, a missing query', () => {
    expect(messages(spec(events.replace('error_query', 'error_querry')))).toEqual([
      's.yaml:8:7: slos.0.sli.events.error_query: required (expected string)',
      's.yaml:9:9: slos.0.sli.events.error_querry: unknown field (check the spelling; docs/slo.md lists the fields)',
    ]);
    expect(messages(spec(events.replace('99.9', '100')))).toEqual([
      's.yaml:6:5: objective: 100 leaves no error budget to evaluate; use a target below 100 (e.g. 99.99)',
    ]);
    expect(messages(spec(events.replace('[{{.window}}]))\n        total', '[5m]))\n        total')))).toEqual([
      's.yaml:9:9: sli.events.error_query: expected the window template {{.window}} in the range, e.g. rate(x[{{.window}}])',
    ]);
    expect(messages(spec(`  - name: "a"\n    objective: 99\n    sli: {}\n`))).toEqual([expect.stringMatching(/^s\.yaml:7:5: slos\.0\.sli: expected exactly one of events, raw or plugin/)]);
    expect(messages(spec(events.replace('"avail"', '"bad name!"')))[0]).toMatch(/^s\.yaml:5:5: slos\.0\.name: expected a name/);
    // The CRD form is camelCase: Sloth's snake_case keys there are typos, reported at their line.
    const crd = `apiVersion: sloth.slok.dev/v1
kind: PrometheusServiceLevel
metadata: { name: x }
spec:
  service: svc
  slos:
    - name: avail
      objective: 99
      sli: { events: { error_query: 'e[{{.window}}]', totalQuery: 't[{{.window}}]' } }
`;
    expect(messages(crd)).toEqual([
      's.yaml:9:14: spec.slos.0.sli.events.errorQuery: required (expected string)',
      // The plain spec's spelling in the CRD is said as such (it was 'unknown field').
      expect.stringMatching(/^s\.yaml:9:24: spec\.slos\.0\.sli\.events\.error_query: error_query is the plain spec's spelling; the PrometheusServiceLevel CRD writes errorQuery/),
    ]);
    // Sloth's window catalogs are refused at their kind, not reported as an unknown document.
    expect(messages('apiVersion: sloth.slok.dev/v1\nkind: AlertWindows\nspec: { sloPeriod: 7d }\n')).toEqual([
      expect.stringMatching(/^s\.yaml:2:1: kind AlertWindows: Sloth's window catalogs are not read/),
    ]);
  });

  it("rules: Sloth's ids, labels and meta series; the period ratio derived from the 5m one; no Quench-only series", () => {
    const slo = importText(spec(events)).slos[0]!;
    const rules = rulesFor(slo)!.flatMap((g) => g.rules);
    const ids = { sloth_id: 'svc-avail', sloth_service: 'svc', sloth_slo: 'avail' };
    expect(rules.find((r) => r.record === 'sloth_slo_info')).toMatchObject({
      expr: 'vector(1)',
      labels: { ...ids, team: 'a', sloth_spec: 'prometheus/v1', sloth_objective: '99.9' },
    });
    expect(String(rules.find((r) => r.record === 'slo:current_burn_rate:ratio')!.expr)).toMatch(/^slo:sli_error:ratio_rate5m\{/);
    expect(rules.find((r) => r.record === 'slo:sli_error:ratio_rate30d')!.expr).toBe(
      'sum_over_time(slo:sli_error:ratio_rate5m{sloth_id="svc-avail", sloth_service="svc", sloth_slo="avail"}[30d])\n/ ignoring (sloth_window)\ncount_over_time(slo:sli_error:ratio_rate5m{sloth_id="svc-avail", sloth_service="svc", sloth_slo="avail"}[30d])',
    );
    expect(rules.filter((r) => String(r.record).startsWith('slo:sli_total'))).toEqual([]);
    const alerts = rules.filter((r) => r.alert);
    expect(alerts.map((a) => [a.alert, a.labels])).toEqual([
      ['SvcAvailErrorBudgetBurn', { ...ids, sloth_severity: 'page' }],
      ['SvcAvailErrorBudgetBurn', { ...ids, sloth_severity: 'ticket' }],
    ]);
  });

  it('an objective written as a ratio (0.999) runs as Sloth reads it, 0.999%, with a warning saying what to write', () => {
    const text = spec(events.replace('objective: 99.9', 'objective: 0.999'));
    expect(messages(text)).toEqual([
      's.yaml:6:5: warning: objective: 0.999 is read as 0.999%: this field is a percentage (99.9 for 99.9%); for 99.9% write 99.9',
    ]);
    expect(importText(text).slos[0]!.objective).toBe(0.00999);
  });
});
