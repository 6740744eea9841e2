import { nominalPeriodMs } from './calendar.js';
import { formatDuration } from './duration.js';
import type { Slo } from './model.js';
import { promRange, tidy, windowExpressions } from './promql.js';
import { alertWindowLengths } from './windows.js';

/**
 * Prometheus recording and alerting rules equivalent to Quench's own evaluation, with Sloth's
 * names (`slo:sli_error:ratio_rate5m`, `sloth_id`/`sloth_service`/`sloth_slo` labels) so Sloth's
 * Grafana dashboards keep working. Unlike Sloth's, a window without traffic records no sample
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

/** Rule groups for one SLO, or undefined when it is not evaluated from Prometheus. */
export function rulesFor(slo: Slo): RuleGroup[] | undefined {
  if (slo.sli.source !== 'prometheus') return undefined;
  const ids = { sloth_id: slo.name, sloth_service: slo.service, sloth_slo: slo.name };
  const sel = selector(ids);
  const period = nominalPeriodMs(slo.window);
  const windows = [...new Set([...alertWindowLengths(slo.alerting.windows), period])].sort((a, b) => a - b);
  const recordings: Array<Record<string, unknown>> = [];
  for (const ms of windows) {
    const w = promRange(ms);
    const { parts, perSecond } = windowExpressions(slo.sli, slo.budgeting, ms);
    // The same parts Quench queries: errors already read 0 when the error series is missing,
    // and `total > 0` (events) or the slices with data leave a window without traffic empty, never NaN.
    const ratio = parts.ratio ?? `(${parts.errors})\n/\n(${parts.total} > 0)`;
    recordings.push({ record: `slo:sli_error:ratio_rate${w}`, expr: ratio, labels: { ...ids, sloth_window: w } });
    const requests = slo.sli.kind === 'events' ? (parts.requests ?? parts.total) : undefined;
    if (requests) {
      const events = perSecond ? `(${requests}) * ${Math.round(ms / 1000)}` : requests;
      recordings.push({ record: `slo:sli_total:events${w}`, expr: events, labels: { ...ids, sloth_window: w } });
    }
  }
  const budget = tidy(1 - slo.objective);
  const pageLongs = slo.alerting.windows.filter((x) => x.severity === 'page').map((x) => x.longMs);
  const current = promRange(pageLongs.length ? Math.min(...pageLongs) : windows[0]!);
  const periodRange = promRange(period);
  const meta = [
    { record: 'slo:objective:ratio', expr: `vector(${slo.objective})`, labels: ids },
    { record: 'slo:error_budget:ratio', expr: `vector(${budget})`, labels: ids },
    { record: 'slo:time_period:days', expr: `vector(${period / 86_400_000})`, labels: ids },
    {
      record: 'slo:current_burn_rate:ratio',
      expr: `slo:sli_error:ratio_rate${current}${sel}\n/ on(sloth_id, sloth_slo, sloth_service) group_left\nslo:error_budget:ratio${sel}`,
      labels: ids,
    },
    {
      record: 'slo:period_burn_rate:ratio',
      expr: `slo:sli_error:ratio_rate${periodRange}${sel}\n/ on(sloth_id, sloth_slo, sloth_service) group_left\nslo:error_budget:ratio${sel}`,
      labels: ids,
    },
    { record: 'slo:period_error_budget_remaining:ratio', expr: `1 - slo:period_burn_rate:ratio${sel}`, labels: ids },
  ];
  const alerts: Array<Record<string, unknown>> = [];
  for (const severity of ['page', 'ticket'] as const) {
    const tier = slo.alerting.tiers[severity];
    const ws = slo.alerting.windows.filter((x) => x.severity === severity);
    if (!tier.enabled || ws.length === 0) continue;
    // The guard counts requests; SLIs without a request volume (raw, threshold) have none.
    const hasEvents = slo.sli.kind === 'events';
    const cond = (ms: number, factor: number, op: string) => {
      const r = promRange(ms);
      const burn = `max(slo:sli_error:ratio_rate${r}${sel} ${op} (${factor} * ${budget})) without (sloth_window)`;
      return hasEvents && slo.alerting.minEvents > 0
        ? `(${burn} and on(sloth_id) max(slo:sli_total:events${r}${sel} >= ${slo.alerting.minEvents}) without (sloth_window))`
        : burn;
    };
    const expr = ws
      .map((x) => {
        const op = x.op === 'gte' ? '>=' : '>';
        return `(\n  ${cond(x.shortMs, x.factor, op)}\n  and\n  ${cond(x.longMs, x.factor, op)}\n)`;
      })
      .join('\nor\n');
    alerts.push({
      alert: `${camel(slo.name)}ErrorBudgetBurn`,
      expr,
      ...(tier.forMs > 0 ? { for: formatDuration(tier.forMs) } : {}),
      labels: {
        sloth_severity: severity,
        severity,
        slo: slo.name,
        service: slo.service,
        ...(tier.playbook ? { playbook: tier.playbook } : {}),
      },
      annotations: {
        title: `(${severity}) ${slo.service} ${slo.name} SLO error budget burn rate is too fast.`,
        summary: `{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is over the expected (windows: ${ws
          .map((x) => `${formatDuration(x.longMs)}/${formatDuration(x.shortMs)} > ${Math.round(x.factor * 1000) / 1000}`)
          .join(', ')}).`,
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

export function rulesFile(slos: readonly Slo[]): { groups: RuleGroup[]; skipped: string[] } {
  const groups: RuleGroup[] = [];
  const skipped: string[] = [];
  for (const slo of slos) {
    const g = rulesFor(slo);
    if (g) groups.push(...g);
    else skipped.push(slo.name);
  }
  return { groups, skipped };
}
