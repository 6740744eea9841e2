import { nominalPeriodMs } from './calendar.js';
import { formatDuration } from './duration.js';
import type { Slo } from './model.js';
import { promRange, tidy, windowExpressions } from './promql.js';
import { alertWindowLengths } from './windows.js';

/**
 * Prometheus recording and alerting rules equivalent to Quench's own evaluation, with Sloth's
 * series (`slo:sli_error:ratio_rate5m`, the `slo:*` meta rules and `sloth_slo_info`, labelled
 * `sloth_id` = `<service>-<slo>`, `sloth_service`, `sloth_slo` and the SLO's labels) so Sloth's
 * Grafana dashboards keep working; for a Sloth file the series and label sets are Sloth's own
 * (test/integration/slo-formats-sloth-rules.test.ts). Unlike Sloth's, a window without traffic records no sample
 * rather than NaN (`/ (total > 0)`), a window with traffic and no error series records 0, and
 * alerts carry the low-traffic guard (on requests). Calendar windows are rolling windows of
 * their nominal length here (a month is 30 days): a rule cannot follow a calendar.
 */
export interface RuleGroup {
  name: string;
  interval?: string;
  rules: Array<Record<string, unknown>>;
}

const camel = (s: string) =>
  s
    .split(/[^a-zA-Z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');

function selector(labels: Record<string, string>): string {
  return `{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)
    .join(', ')}}`;
}

/**
 * The SLO's labels under names Prometheus accepts. OpenSLO metadata and Kubernetes users name
 * labels `app.kubernetes.io/name` or `cost-center`, which Prometheus refuses in a rule (and with
 * it the whole rule file): they become `app_kubernetes_io_name` and `cost_center`, as
 * Prometheus' Kubernetes discovery writes them. Names starting with `__` are Prometheus' own and
 * are left out.
 */
export function promLabels(labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(labels)) {
    if (name.startsWith('__')) continue;
    const safe = name.replace(/[^a-zA-Z0-9_]/g, '_');
    out[/^[0-9]/.test(safe) ? `_${safe}` : safe] = value;
  }
  return out;
}

/** `sloth_id` as Sloth forms it, `<service>-<slo>`, with the SLO's name within its service. */
export function slothIds(slo: Slo): { sloth_id: string; sloth_service: string; sloth_slo: string } {
  const own = slo.rules?.slo ?? slo.name;
  return { sloth_id: `${slo.service}-${own}`, sloth_service: slo.service, sloth_slo: own };
}

/** Sloth's "current" burn rate window: the short window of its quickest page alert (5m in the workbook). */
function currentWindow(slo: Slo, windows: readonly number[]): number {
  const pages = slo.alerting.windows.filter((x) => x.severity === 'page');
  if (pages.length === 0) return windows[0]!;
  const quickest = pages.reduce((a, b) => (b.factor > a.factor || (b.factor === a.factor && b.longMs < a.longMs) ? b : a));
  return quickest.shortMs;
}

export interface RuleOptions {
  /** `sloth_version` on `sloth_slo_info`. */
  version?: string;
}

/** Rule groups for one SLO, or undefined when it is not evaluated from Prometheus. */
export function rulesFor(slo: Slo, options: RuleOptions = {}): RuleGroup[] | undefined {
  if (slo.sli.source !== 'prometheus') return undefined;
  const ids = slothIds(slo);
  // Sloth merges the SLO's labels into every rule; its ids win over a label of the same name.
  const labels = { ...promLabels(slo.labels), ...ids };
  const sel = selector(ids);
  const period = nominalPeriodMs(slo.window);
  const alertLengths = alertWindowLengths(slo.alerting.windows);
  const windows = [...new Set([...alertLengths, period])].sort((a, b) => a - b);
  const current = currentWindow(slo, windows);
  // Sloth derives the period's ratio from the current window's recorded ratio (the mean of its
  // samples over the period) instead of a 30-day range query: far cheaper for Prometheus, and the
  // same series Sloth's dashboards read. Quench's own evaluation reads the period exactly.
  // Never when the period is an alert window too (a 3-day SLO's 3d ticket window): alerts read it exactly.
  const derivePeriod =
    slo.budgeting.method === 'occurrences' && current < period && alertLengths.includes(current) && !alertLengths.includes(period);
  const guard = slo.sli.kind === 'events' && slo.alerting.minEvents > 0;
  const recordings: Array<Record<string, unknown>> = [];
  for (const ms of windows) {
    const w = promRange(ms);
    if (ms === period && derivePeriod) {
      const short = `slo:sli_error:ratio_rate${promRange(current)}${sel}`;
      recordings.push({
        record: `slo:sli_error:ratio_rate${w}`,
        expr: `sum_over_time(${short}[${w}])\n/ ignoring (sloth_window)\ncount_over_time(${short}[${w}])`,
        labels: { ...labels, sloth_window: w },
      });
      continue;
    }
    const { parts, perSecond } = windowExpressions(slo.sli, slo.budgeting, ms);
    // The same parts Quench queries: errors already read 0 when the error series is missing,
    // and `total > 0` (events) or the slices with data leave a window without traffic empty, never NaN.
    const ratio = parts.ratio ?? `(${parts.errors})\n/\n(${parts.total} > 0)`;
    recordings.push({ record: `slo:sli_error:ratio_rate${w}`, expr: ratio, labels: { ...labels, sloth_window: w } });
    // The request volume only serves the low-traffic guard of the alerts: recorded for their windows.
    const requests = guard && alertLengths.includes(ms) ? (parts.requests ?? parts.total) : undefined;
    if (requests) {
      const events = perSecond ? `(${requests}) * ${Math.round(ms / 1000)}` : requests;
      recordings.push({ record: `slo:sli_total:events${w}`, expr: events, labels: { ...labels, sloth_window: w } });
    }
  }
  const budget = tidy(1 - slo.objective);
  const periodRange = promRange(period);
  const burn = (range: string) =>
    `slo:sli_error:ratio_rate${range}${sel}\n/ on(sloth_id, sloth_slo, sloth_service) group_left\nslo:error_budget:ratio${sel}`;
  const meta = [
    { record: 'slo:objective:ratio', expr: `vector(${slo.objective})`, labels },
    { record: 'slo:error_budget:ratio', expr: `vector(${budget})`, labels },
    { record: 'slo:time_period:days', expr: `vector(${tidy(period / 86_400_000)})`, labels },
    { record: 'slo:current_burn_rate:ratio', expr: burn(promRange(current)), labels },
    { record: 'slo:period_burn_rate:ratio', expr: burn(periodRange), labels },
    { record: 'slo:period_error_budget_remaining:ratio', expr: `1 - slo:period_burn_rate:ratio${sel}`, labels },
    {
      record: 'sloth_slo_info',
      expr: 'vector(1)',
      labels: {
        ...labels,
        sloth_version: options.version ?? 'quench',
        sloth_mode: 'quench-slo-rules',
        sloth_spec: slo.rules?.spec ?? (slo.origin.format === 'openslo' ? 'openslo/v1' : 'quench/v1'),
        sloth_objective: String(tidy(slo.objective * 100)),
      },
    },
  ];
  const alerts: Array<Record<string, unknown>> = [];
  for (const severity of ['page', 'ticket'] as const) {
    const tier = slo.alerting.tiers[severity];
    const ws = slo.alerting.windows.filter((x) => x.severity === severity);
    if (!tier.enabled || ws.length === 0) continue;
    // The guard counts requests; SLIs without a request volume (raw, threshold) have none.
    const cond = (ms: number, factor: number, op: string) => {
      const r = promRange(ms);
      const burning = `max(slo:sli_error:ratio_rate${r}${sel} ${op} (${factor} * ${budget})) without (sloth_window)`;
      return guard
        ? `(${burning} and on(sloth_id) max(slo:sli_total:events${r}${sel} >= ${slo.alerting.minEvents}) without (sloth_window))`
        : burning;
    };
    const expr = ws
      .map((x) => {
        const op = x.op === 'gte' ? '>=' : '>';
        return `(\n  ${cond(x.shortMs, x.factor, op)}\n  and\n  ${cond(x.longMs, x.factor, op)}\n)`;
      })
      .join('\nor\n');
    alerts.push({
      alert: slo.rules?.alertName ?? `${camel(slo.name)}ErrorBudgetBurn`,
      expr,
      ...(tier.forMs > 0 ? { for: formatDuration(tier.forMs) } : {}),
      // A Sloth file's alerts carry Sloth's labels only (its severity routing is the file's own labels).
      // The ids are on every alert's series anyway (the expression keeps them); written on the rule
      // too, two services' alerts of one name stay distinct rules (promtool's duplicate-rules lint).
      labels: {
        ...ids,
        sloth_severity: severity,
        ...(slo.origin.format === 'sloth' ? {} : { severity, slo: slo.name, service: slo.service }),
        ...(tier.playbook ? { playbook: tier.playbook } : {}),
        ...slo.rules?.alertLabels?.[severity],
      },
      annotations: {
        title: `(${severity}) ${slo.service} ${slo.name} SLO error budget burn rate is too fast.`,
        summary: `{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is over the expected (windows: ${ws
          .map((x) => `${formatDuration(x.longMs)}/${formatDuration(x.shortMs)} > ${Math.round(x.factor * 1000) / 1000}`)
          .join(', ')}).`,
        ...slo.rules?.alertAnnotations?.[severity],
      },
    });
  }
  const id = slo.name;
  return [
    { name: `quench-slo-sli-recordings-${id}`, rules: recordings },
    { name: `quench-slo-meta-recordings-${id}`, rules: meta },
    ...(alerts.length ? [{ name: `quench-slo-alerts-${id}`, rules: alerts }] : []),
  ];
}

export function rulesFile(slos: readonly Slo[], options: RuleOptions = {}): { groups: RuleGroup[]; skipped: string[] } {
  const groups: RuleGroup[] = [];
  const skipped: string[] = [];
  for (const slo of slos) {
    const g = rulesFor(slo, options);
    if (g) groups.push(...g);
    else skipped.push(slo.name);
  }
  return { groups, skipped };
}
