import type { Problem } from '../../definitions/problem.js';
import type { SourceDocument } from '../../definitions/source.js';
import { parseDuration } from '../core/duration.js';
import type { Alerting, BurnWindow, Sli, Slo } from '../core/model.js';
import { tidy } from '../core/promql.js';
import { ratioInPercentField, sloZodProblems } from './common.js';
import { budgetPolicyOf } from './quench-import.js';
import type { BudgetPolicyFields } from './quench-schema.js';
import { PYRRA_API_VERSION, PYRRA_KIND, type PyrraSlo, pyrraSloSchema } from './pyrra-schema.js';

/**
 * Pyrra ServiceLevelObjectives as they are. Ratio and latency indicators are counters read over
 * each window (Quench increases a bare selector itself); a bool gauge counts samples (good: 1);
 * a native-histogram latency reads the fraction below the latency. Pyrra's alert windows are
 * kept: its four multi-window burn rates scaled to the SLO window (slo/rules.go `Windows`), the
 * critical ones paging and the warning ones ticketing.
 *
 * Grouping makes Pyrra keep one budget per label value; Quench keeps one per SLO, so the groups
 * are summed and a warning says so. Fields that only steer Pyrra's rule output are accepted and
 * warned about.
 */
const SERVICE_ANNOTATION = 'quench.dev/service';
/** Labels under this prefix are copied (prefix removed) into the generated rules, as Pyrra does. */
const PROPAGATED = 'pyrra.dev/';

export const isPyrra = (v: { apiVersion?: unknown; kind?: unknown }) => v.apiVersion === PYRRA_API_VERSION && v.kind === PYRRA_KIND;

const MINUTE = 60_000;
const DAY = 86_400_000;
/** Go's `Duration.Round(time.Minute)`: halves away from zero. */
const roundMinute = (ms: number) => Math.round(ms / MINUTE) * MINUTE;

/** Pyrra's windows for an SLO window (slo/rules.go `Windows`), in the same order. */
export function pyrraWindows(windowMs: number): Array<BurnWindow & { forMs: number }> {
  const part = (div: number) => roundMinute(windowMs / div);
  const h = 28 * 24;
  return [
    { severity: 'page', forMs: part(h * 30), longMs: part(h), shortMs: part(h * 12), factor: 14 },
    { severity: 'page', forMs: part(h * 4), longMs: part(28 * 4), shortMs: part(h * 2), factor: 7 },
    { severity: 'ticket', forMs: part(h), longMs: part(28), shortMs: part(28 * 12), factor: 2 },
    { severity: 'ticket', forMs: part(28 * 8), longMs: part(7), shortMs: part(28 * 4), factor: 1 },
  ];
}

/** A Prometheus duration (`100ms`, `1.5s` is not one, `2s`) as seconds. */
function seconds(text: string): number | undefined {
  const ms = parseDuration(text);
  return ms === undefined ? undefined : ms / 1000;
}

function sliOf(spec: PyrraSlo['spec'], problem: (path: PropertyKey[], message: string) => void): Sli | undefined {
  const i = spec.indicator;
  if (i.ratio) return { kind: 'events', source: 'prometheus', errorQuery: i.ratio.errors.metric, totalQuery: i.ratio.total.metric };
  if (i.latency) return { kind: 'events', source: 'prometheus', goodQuery: i.latency.success.metric, totalQuery: i.latency.total.metric };
  if (i.bool_gauge) {
    // Each sample is an event, good when the gauge reads 1 (Pyrra's bool gauge: probe_success).
    const m = i.bool_gauge.metric;
    return { kind: 'events', source: 'prometheus', goodQuery: `sum(sum_over_time(${m}[{{window}}]))`, totalQuery: `sum(count_over_time(${m}[{{window}}]))` };
  }
  const native = i.latencyNative!;
  const le = seconds(native.latency);
  if (le === undefined) {
    problem(['spec', 'indicator', 'latencyNative', 'latency'], 'latencyNative.latency: expected a duration such as 200ms or 1s');
    return undefined;
  }
  const hist = `sum(increase(${native.total.metric}[{{window}}]))`;
  return {
    kind: 'events',
    source: 'prometheus',
    goodQuery: `histogram_fraction(0, ${le}, ${hist}) * histogram_count(${hist})`,
    totalQuery: `histogram_count(${hist})`,
  };
}

export function importPyrra(
  doc: SourceDocument,
  servicePolicy: (service: string) => BudgetPolicyFields | undefined = () => undefined,
): { slos: Slo[]; problems: Problem[] } {
  const parsed = pyrraSloSchema.safeParse(doc.value);
  if (!parsed.success) return { slos: [], problems: sloZodProblems(doc, parsed.error) };
  const { metadata, spec } = parsed.data;
  const problems: Problem[] = [];
  const error = (path: PropertyKey[], message: string) => problems.push(doc.problem(path, message));
  const warn = (path: PropertyKey[], message: string) => problems.push(doc.problem(path, message, 'warning'));

  const target = typeof spec.target === 'number' ? spec.target : /^\s*\d+(\.\d+)?\s*$/.test(spec.target) ? Number(spec.target) : NaN;
  if (!(target > 0 && target < 100))
    error(['spec', 'target'], `target: expected a percentage above 0 and below 100 as a string, e.g. "99.9" (got ${JSON.stringify(spec.target)})`);
  // Pyrra itself takes "0.99" as 0.99%, so the file runs as written; say what it means.
  const ratio = ratioInPercentField(target);
  if (ratio) warn(['spec', 'target'], `target: ${ratio}`);
  const windowMs = parseDuration(spec.window);
  if (windowMs === undefined) error(['spec', 'window'], 'window: expected a Prometheus duration such as 28d, 4w or 7d');
  else if (windowMs < DAY) error(['spec', 'window'], "window: at least 1d (Pyrra's alert windows are a 672th of it and would round to nothing)");

  const ind = spec.indicator;
  const group = ind.ratio ?? ind.latency ?? ind.latencyNative ?? ind.bool_gauge;
  const kind = ind.ratio ? 'ratio' : ind.latency ? 'latency' : ind.latencyNative ? 'latencyNative' : 'bool_gauge';
  if (group?.grouping?.length)
    warn(
      ['spec', 'indicator', kind, 'grouping'],
      `${kind}.grouping: Pyrra keeps one error budget per ${group.grouping.join(', ')}; Quench keeps one per SLO and sums the groups into it. For a budget per value, write one SLO per value with a matcher in the metrics`,
    );
  const a = spec.alerting ?? {};
  if (a.absent === true || a.absentName !== undefined || a.severities?.absent !== undefined)
    warn(['spec', 'alerting', a.absent === true ? 'absent' : a.absentName !== undefined ? 'absentName' : 'severities'], 'alerting.absent: Quench generates no metric-absent alert (a missing series reads as no data in `quench slo status`); the field has no effect');
  const sev = a.severities ?? {};
  if (sev.fastBurn !== undefined && sev.mediumBurn !== undefined && sev.fastBurn !== sev.mediumBurn)
    error(['spec', 'alerting', 'severities', 'mediumBurn'], 'alerting.severities: fastBurn and mediumBurn form one page alert in Quench and must be equal');
  if (sev.slowBurn !== undefined && sev.longTermBurn !== undefined && sev.slowBurn !== sev.longTermBurn)
    error(['spec', 'alerting', 'severities', 'longTermBurn'], 'alerting.severities: slowBurn and longTermBurn form one ticket alert in Quench and must be equal');
  for (const key of ['partial_response_strategy', 'performanceOverAccuracy', 'ruleOutput'] as const)
    if (spec[key] !== undefined) warn(['spec', key], `${key}: steers Pyrra's own rule output only; it has no effect in Quench`);

  const sli = sliOf(spec, error);
  if (problems.some((p) => p.severity === 'error') || !sli || windowMs === undefined) return { slos: [], problems };

  const windows = pyrraWindows(windowMs);
  const burning = !(a.disabled ?? false) && (a.burnrates ?? true);
  const forOf = (severity: 'page' | 'ticket') => Math.min(...windows.filter((w) => w.severity === severity).map((w) => w.forMs));
  const alerting: Alerting = {
    windows: windows.map(({ forMs: _for, ...w }) => w),
    minEvents: 0,
    tiers: {
      page: { severity: 'page', enabled: burning, forMs: forOf('page') },
      ticket: { severity: 'ticket', enabled: burning, forMs: forOf('ticket') },
    },
  };
  const service = metadata.annotations?.[SERVICE_ANNOTATION] ?? metadata.namespace ?? metadata.name;
  const labels = Object.fromEntries(
    Object.entries(metadata.labels ?? {})
      .filter(([k]) => k.startsWith(PROPAGATED))
      .map(([k, v]) => [k.slice(PROPAGATED.length), v]),
  );
  const tierLabel = (s: string | undefined): Record<string, string> => (s === undefined ? {} : { severity: s });
  const slo: Slo = {
    name: metadata.name,
    service,
    ...(spec.description ? { description: spec.description } : {}),
    objective: tidy(target / 100),
    window: { kind: 'rolling', ms: windowMs },
    budgeting: { method: 'occurrences' },
    sli,
    alerting,
    policy: budgetPolicyOf(undefined, servicePolicy(service)),
    labels,
    origin: { file: doc.file, ...doc.positionOf(['metadata', 'name']), format: 'pyrra' },
    rules: {
      spec: PYRRA_API_VERSION,
      alertName: a.name ?? 'ErrorBudgetBurn',
      alertLabels: { page: tierLabel(sev.fastBurn ?? sev.mediumBurn ?? 'critical'), ticket: tierLabel(sev.slowBurn ?? sev.longTermBurn ?? 'warning') },
    },
  };
  return { slos: [slo], problems };
}
