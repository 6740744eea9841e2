/**
 * Reading the shipped monitoring files (deploy/grafana/quench-dashboard.json,
 * deploy/prometheus/quench-alerts.yaml) and docs/operations.md's metrics table, for the unit
 * checks beside this file and the real-Prometheus test (test/integration/ops-prometheus.test.ts).
 */

export interface PanelQuery {
  panel: string;
  expr: string;
}

export interface Panel {
  title?: string;
  type?: string;
  datasource?: unknown;
  panels?: Panel[];
  targets?: Array<{ expr?: string; datasource?: unknown }>;
}

interface Dashboard {
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: string | { query?: string } }> };
}

export function dashboardPanels(dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((p) => (p.type === 'row' ? (p.panels ?? []) : [p]));
}

/**
 * Every PromQL the dashboard sends: panel targets, and the query variables (`label_values(SELECTOR,
 * LABEL)` is Grafana's, so it is checked as `count by (LABEL) (SELECTOR)`).
 */
export function dashboardQueries(dashboard: Dashboard): PanelQuery[] {
  const panels = dashboardPanels(dashboard).flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title ?? '?', expr: t.expr ?? '' })));
  const variables = dashboard.templating.list
    .filter((v) => v.type === 'query')
    .map((v) => {
      const q = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
      const m = /^label_values\((.+),\s*(\w+)\)$/.exec(q);
      return { panel: `variable ${v.name}`, expr: m ? `count by (${m[2]}) (${m[1]})` : q };
    });
  return [...panels, ...variables];
}

/** Grafana's variables as a test's Prometheus needs them. */
export function substitute(expr: string, v: { job: string; service: string; rateInterval: string }): string {
  return expr
    .replaceAll('$__rate_interval', v.rateInterval)
    .replace(/\$\{job\}|\$job\b/g, v.job)
    .replace(/\$\{service\}|\$service\b/g, v.service);
}

export interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function ruleList(doc: unknown): Rule[] {
  const groups = (doc as { groups: Array<{ rules: Rule[] }> }).groups;
  return groups.flatMap((g) => g.rules);
}

const COMPARISON = /^(==|!=|>=|<=|>|<|unless|and|or)$/;

/** Splits at binary comparison and set operators outside parentheses and brackets. */
function splitTopLevel(expr: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  const tokens = /\(|\)|\[|\]|\{|\}|"(?:[^"\\]|\\.)*"|==|!=|>=|<=|>|<|\bunless\b|\band\b|\bor\b/g;
  for (let m = tokens.exec(expr); m; m = tokens.exec(expr)) {
    const t = m[0];
    if (t === '(' || t === '[' || t === '{') depth++;
    else if (t === ')' || t === ']' || t === '}') depth--;
    else if (depth === 0 && COMPARISON.test(t)) {
      parts.push(expr.slice(start, m.index));
      start = m.index + t.length;
    }
  }
  parts.push(expr.slice(start));
  return parts.map((p) => p.trim());
}

/** Strips `on (…)`, `ignoring (…)`, `group_left/right (…)` and `bool` left by a split. */
function stripModifiers(part: string): string {
  let p = part.trim();
  for (;;) {
    const next = p.replace(/^(bool\b|(on|ignoring|group_left|group_right)\s*\([^)]*\))\s*/, '');
    if (next === p) return p;
    p = next;
  }
}

function outerParens(expr: string): string | undefined {
  if (!expr.startsWith('(') || !expr.endsWith(')')) return undefined;
  let depth = 0;
  for (let i = 0; i < expr.length; i++) {
    if (expr[i] === '(') depth++;
    else if (expr[i] === ')') depth--;
    if (depth === 0 && i < expr.length - 1) return undefined;
  }
  return expr.slice(1, -1).trim();
}

/**
 * The parts of an alert expression that must return data on a healthy, scraped Quench: an
 * alert's whole expression is legitimately empty until something goes wrong (`x > 0`), but
 * each operand of its comparisons and set operators reads series that exist all along.
 * `absent(x)` is checked as `x`; numbers are not queried.
 */
export function dataParts(expr: string): string[] {
  const parts = splitTopLevel(expr.trim()).map(stripModifiers);
  if (parts.length === 1) {
    const only = parts[0]!;
    const inner = outerParens(only);
    if (inner !== undefined) return dataParts(inner);
    const absent = /^absent\((.*)\)$/s.exec(only);
    if (absent) return dataParts(absent[1]!);
    return [only];
  }
  return parts.filter((p) => !/^-?\d+(\.\d+)?$/.test(p)).flatMap(dataParts);
}

/** Metric families in a Prometheus exposition, by `# TYPE` line (present even before the first sample). */
export function exportedMetrics(exposition: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

export interface DocumentedMetric {
  name: string;
  type: string;
  labels: string;
  scope: string;
  aggregate: string;
}

/** The rows of docs/operations.md's metrics table: | `name` | type | labels | scope | aggregate | meaning |. */
export function documentedMetricRows(markdown: string): DocumentedMetric[] {
  const rows: DocumentedMetric[] = [];
  for (const m of markdown.matchAll(/^\| `(quench_[a-z_]+)` \| (\w+) \| ([^|]*) \| ([^|]*) \| ([^|]*) \|/gm)) {
    rows.push({ name: m[1]!, type: m[2]!, labels: m[3]!.trim(), scope: m[4]!.trim(), aggregate: m[5]!.trim() });
  }
  return rows;
}

export function documentedMetrics(markdown: string): Map<string, string> {
  return new Map(documentedMetricRows(markdown).map((r) => [r.name, r.type]));
}

/** Metric family names a PromQL expression reads (`_bucket`/`_count`/`_sum` mapped to their histogram). */
export function metricsIn(expr: string): string[] {
  const names = new Set<string>();
  for (const m of expr.matchAll(/\bquench_[a-z_]+/g)) names.add(m[0].replace(/_(bucket|count|sum)$/, ''));
  return [...names];
}
