import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { dashboardPanels, dashboardQueries, dataParts, documentedMetricRows, metricsIn, ruleList } from './queries.js';

// The shipped dashboard and alert rules, checked without a Prometheus: promtool's own checks
// and unit tests, runbooks that exist, metric names that Quench documents (the real-Prometheus
// test, test/integration/ops-prometheus.test.ts, checks the documented names are the exported
// ones), and cluster-wide gauges always taken with max().

const root = fileURLToPath(new URL('../../..', import.meta.url));
const read = (path: string) => readFileSync(`${root}/${path}`, 'utf8');
const PROMTOOL = process.env.PROMTOOL_BIN || '/usr/bin/promtool';
const rulesPath = 'deploy/prometheus/quench-alerts.yaml';
const rules = ruleList(parse(read(rulesPath)));
const dashboard = JSON.parse(read('deploy/grafana/quench-dashboard.json'));
const operations = read('docs/operations.md');
const documented = documentedMetricRows(operations);

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
const anchors = new Set(
  [...operations.matchAll(/^#{2,4} (.+)$/gm)].map((m) =>
    m[1]!
      .trim()
      .toLowerCase()
      .replace(/[^a-z0-9 _-]/g, '')
      .replace(/ /g, '-'),
  ),
);

// The variables' own queries (`label_values(quench_leader, job)`) select the job; they are not filtered by it.
const panelQueries = dashboardQueries(dashboard).filter((q) => !q.panel.startsWith('variable '));
const allQueries = [
  ...rules.map((r) => ({ where: `rule ${r.alert}`, expr: r.expr })),
  ...dashboardQueries(dashboard).map((q) => ({ where: `panel ${q.panel}`, expr: q.expr })),
];

describe.skipIf(!existsSync(PROMTOOL))('promtool', () => {
  it('check rules passes', () => {
    const r = spawnSync(PROMTOOL, ['check', 'rules', rulesPath], { cwd: root, encoding: 'utf8' });
    expect(r.stderr + r.stdout).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.status).toBe(0);
  });

  it('test rules passes (deploy/prometheus/quench-alerts.test.yaml)', () => {
    const r = spawnSync(PROMTOOL, ['test', 'rules', 'quench-alerts.test.yaml'], { cwd: `${root}/deploy/prometheus`, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toMatch(/SUCCESS/);
    expect(r.status).toBe(0);
  });

  it('every alert is exercised by the promtool tests', () => {
    const tested = new Set([...read('deploy/prometheus/quench-alerts.test.yaml').matchAll(/alertname: (\w+)/g)].map((m) => m[1]));
    expect(rules.map((r) => r.alert).filter((a) => !tested.has(a))).toEqual([]);
  });
});

describe('alert rules', () => {
  it('each has a severity, a summary, a description and a runbook section in docs/operations.md', () => {
    for (const rule of rules) {
      expect(['critical', 'warning'], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.description, rule.alert).toBeTruthy();
      const runbook = /^docs\/operations\.md#([a-z0-9-]+)$/.exec(rule.annotations?.runbook_url ?? '');
      expect(runbook, `${rule.alert} runbook_url`).not.toBeNull();
      expect(anchors.has(runbook![1]!), `${rule.alert}: no heading for #${runbook![1]} in docs/operations.md`).toBe(true);
    }
  });

  it('names are unique', () => {
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
  });
});

describe('dashboard', () => {
  const panels = dashboardPanels(dashboard);

  it('imports into Grafana 10: a Prometheus datasource variable that every panel and query uses', () => {
    const ds = dashboard.templating.list.find((v: { name: string }) => v.name === 'datasource');
    expect(ds).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(dashboard.id).toBeNull();
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    for (const p of panels) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      for (const t of p.targets ?? []) expect(t.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
    }
  });

  it('every query is limited to the selected job', () => {
    for (const q of panelQueries) {
      const selectors = [...q.expr.matchAll(/\bquench_[a-z_]+(\{[^}]*\})?/g)];
      for (const s of selectors) expect(s[1] ?? '', `${q.panel}: ${s[0]}`).toMatch(/job=~"\$job"/);
    }
  });

  it('panels have unique ids and do not overlap', () => {
    const all = dashboard.panels as Array<{ id: number; gridPos: { x: number; y: number; w: number; h: number } }>;
    expect(new Set(all.map((p) => p.id)).size).toBe(all.length);
    for (const a of all)
      for (const b of all) {
        if (a === b) continue;
        const overlap =
          a.gridPos.x < b.gridPos.x + b.gridPos.w &&
          b.gridPos.x < a.gridPos.x + a.gridPos.w &&
          a.gridPos.y < b.gridPos.y + b.gridPos.h &&
          b.gridPos.y < a.gridPos.y + a.gridPos.h;
        expect(overlap, `panels ${a.id} and ${b.id} overlap`).toBe(false);
      }
  });

  it('covers SLO budgets and burn rates, runs, human steps, inbox lag, dead letters and the audit head', () => {
    const used = new Set(dashboardQueries(dashboard).flatMap((q) => metricsIn(q.expr)));
    for (const m of [
      'quench_slo_error_budget_remaining_ratio',
      'quench_slo_burn_rate',
      'quench_engine_runs',
      'quench_engine_human_steps_waiting',
      'quench_human_step_sla_breaches_total',
      'quench_ingest_inbox_lag_seconds',
      'quench_engine_dead_letters',
      'quench_ingest_inbox_dead',
      'quench_audit_head_sequence',
    ])
      expect(used.has(m), m).toBe(true);
  });
});

describe('metric names and aggregation', () => {
  it('the docs table gives every metric a type, a scope and an aggregation', () => {
    expect(documented.length).toBeGreaterThan(20);
    for (const row of documented) {
      expect(['counter', 'gauge', 'histogram'], row.name).toContain(row.type);
      expect(['cluster', 'replica', 'leader'], row.name).toContain(row.scope);
      expect(row.aggregate, row.name).toMatch(/^`(max|sum|rate|increase|histogram_quantile)/);
    }
  });

  it('the rules and the dashboard read only documented metrics', () => {
    const names = new Set(documented.map((d) => d.name));
    const unknown = allQueries.flatMap((q) => metricsIn(q.expr).filter((m) => !names.has(m)).map((m) => `${q.where}: ${m}`));
    expect(unknown).toEqual([]);
  });

  it('gauges every replica exports identically are taken with max(), never summed', () => {
    const cluster = documented.filter((d) => d.scope === 'cluster').map((d) => d.name);
    expect(cluster).toEqual(expect.arrayContaining(['quench_engine_runs', 'quench_engine_dead_letters', 'quench_ingest_inbox_lag_seconds', 'quench_audit_head_sequence']));
    const wrong: string[] = [];
    for (const q of allQueries)
      for (const name of cluster) {
        for (const m of q.expr.matchAll(new RegExp(`\\b${name}\\b`, 'g'))) {
          const before = q.expr.slice(0, m.index).replace(/\s+/g, '');
          // Directly inside max(…) / max by (…) (…), or a *_over_time(…) / delta(…) inside one.
          const ok = /max(by\([^)]*\))?\((max_over_time\(|delta\()?$/.test(before);
          if (!ok) wrong.push(`${q.where}: ${q.expr}`);
        }
      }
    expect(wrong).toEqual([]);
  });

  it('leader-only SLO gauges are read from the leading replica on the dashboard', () => {
    const leaderOnly = documented.filter((d) => d.scope === 'leader').map((d) => d.name);
    for (const q of panelQueries)
      if (metricsIn(q.expr).some((m) => leaderOnly.includes(m) && m !== 'quench_slo_last_evaluation_timestamp_seconds'))
        expect(q.expr, q.panel).toMatch(/and on \(job, instance\) \(quench_leader\{job=~"\$job"\} == 1\)/);
  });
});

describe('dataParts: what must return data while nothing is wrong', () => {
  it('takes comparisons, set operators and absent() apart', () => {
    expect(dataParts('max(quench_engine_dead_letters) > 0')).toEqual(['max(quench_engine_dead_letters)']);
    expect(dataParts('absent(quench_leader)')).toEqual(['quench_leader']);
    expect(dataParts('quench_leader == 1 unless on (job, instance) (time() - quench_slo_last_evaluation_timestamp_seconds < 300)')).toEqual([
      'quench_leader',
      'time() - quench_slo_last_evaluation_timestamp_seconds',
    ]);
    expect(dataParts('max(a) < max(max_over_time(a[1h]))')).toEqual(['max(a)', 'max(max_over_time(a[1h]))']);
    expect(dataParts('sum by (slo) (rate(x{code=~"5..|>"}[5m])) > 0')).toEqual(['sum by (slo) (rate(x{code=~"5..|>"}[5m]))']);
  });
});
