import { parseDuration } from '../core/duration.js';
import type { Alerting, BurnWindow, Severity, SloWindow } from '../core/model.js';
import { CATALOG_PERIODS, catalogWindows } from '../core/windows.js';
import { type At, at, type OpenSloImport } from './openslo-import.js';
import type { AlertConditionSpec, AlertPolicySpec, OpenSloSlo } from './openslo-schema.js';

/**
 * OpenSLO alert policies as burn-rate windows. A condition gives the long window
 * (`lookbackWindow`) and the factor (`threshold`); the short window is the workbook's 1/12 of
 * the long one, so alerts reset quickly once the burn stops. Severities named like pages
 * (critical, high, p1, …) page; anything else opens a ticket.
 */
const PAGE_SEVERITIES = new Set(['page', 'critical', 'high', 'p1', 'sev1', 'urgent', 'emergency']);

function condition(imp: OpenSloImport, spec: AlertConditionSpec, where: At, periodMs: number): BurnWindow | undefined {
  const c = spec.condition;
  if (c.kind.toLowerCase() !== 'burnrate')
    return imp.error(at(where, 'condition', 'kind'), `condition.kind ${c.kind} is not supported; Quench alerts on burnrate`);
  if (c.op === 'lt' || c.op === 'lte')
    // Read literally, lte alerts while the budget burns no faster than the threshold: every
    // quiet minute, never during an incident. The spec's README writes `op: lte` in its example
    // of a burn rate that "exceeds 2", so which one a file means cannot be guessed.
    return imp.error(
      at(where, 'condition', 'op'),
      `op: ${c.op} alerts while the burn rate is ${c.op === 'lt' ? 'below' : 'at or below'} ${c.threshold}, while the error budget is safe, and never while it burns (the OpenSLO README's own example writes op: lte for a burn rate that "exceeds 2"; Quench does not guess which was meant): to alert when the budget burns, write op: gte (at or above ${c.threshold}) or op: gt (above ${c.threshold})`,
    );
  const longMs = parseDuration(c.lookbackWindow);
  if (!longMs)
    return imp.error(at(where, 'condition', 'lookbackWindow'), `lookbackWindow: expected a duration such as 1h, not ${c.lookbackWindow}`);
  if (longMs > periodMs) imp.error(at(where, 'condition', 'lookbackWindow'), 'lookbackWindow is longer than the SLO window', 'warning');
  const severity: Severity = PAGE_SEVERITIES.has(spec.severity.toLowerCase()) ? 'page' : 'ticket';
  // The workbook's short window is 1/12 of the long one; it lets the alert reset quickly.
  return {
    severity,
    longMs,
    shortMs: Math.max(60_000, Math.round(longMs / 12 / 60_000) * 60_000),
    factor: c.threshold,
    ...(c.op === 'gte' ? { op: 'gte' as const } : {}),
  };
}

/**
 * Alert policy fields Quench accepts (real files carry them) but does not act on: said as
 * warnings, so nobody relies on them silently. Quench pages and tickets on burn; what a firing
 * alert does is its playbook's business, not a notification target's.
 */
function noEffect(imp: OpenSloImport, spec: AlertPolicySpec, where: At): void {
  if (spec.alertWhenNoData !== undefined)
    imp.error(
      at(where, 'alertWhenNoData'),
      'alertWhenNoData has no effect: Quench never alerts on missing data (a window without data holds the alert state and shows as no data in quench slo status)',
      'warning',
    );
  if (spec.alertWhenResolved === false)
    imp.error(
      at(where, 'alertWhenResolved'),
      'alertWhenResolved: false has no effect: Quench always records and announces when a burn alert resolves',
      'warning',
    );
  if (spec.alertWhenBreaching === false)
    imp.error(
      at(where, 'alertWhenBreaching'),
      'alertWhenBreaching: false has no effect: Quench alerts when the burn rate breaches; to silence this SLO remove its alert policies',
      'warning',
    );
  if (spec.notificationTargets && spec.notificationTargets.length > 0)
    imp.error(
      at(where, 'notificationTargets'),
      'notificationTargets have no effect: Quench does not notify targets itself; a firing burn alert starts the playbook its routing names (docs/slo.md)',
      'warning',
    );
}

/** Burn windows from the SLO's alert policies (inline or referenced); the workbook's set when there are none. */
export function openSloAlerting(imp: OpenSloImport, slo: OpenSloSlo, where: At, periodMs: number, window: SloWindow | undefined): Alerting {
  const windows: BurnWindow[] = [];
  const forMs: Partial<Record<Severity, number>> = {};
  (slo.spec.alertPolicies ?? []).forEach((item, i) => {
    const pAt = at(where, 'alertPolicies', i);
    const policy = 'alertPolicyRef' in item ? imp.ref('AlertPolicy', item.alertPolicyRef, at(pAt, 'alertPolicyRef')) : undefined;
    const spec = 'alertPolicyRef' in item ? (policy?.value.spec as { conditions: unknown[] } | undefined) : item.spec;
    const specAt: At = policy ? { doc: policy.doc, path: ['spec'] } : at(pAt, 'spec');
    if (spec) noEffect(imp, spec as AlertPolicySpec, specAt);
    (spec?.conditions ?? []).forEach((cond, j) => {
      const cAt = at(specAt, 'conditions', j);
      const c = cond as { conditionRef?: string; spec?: AlertConditionSpec };
      const found = c.conditionRef ? imp.ref('AlertCondition', c.conditionRef, at(cAt, 'conditionRef')) : undefined;
      const condSpec = c.conditionRef ? (found?.value.spec as AlertConditionSpec | undefined) : c.spec;
      const condAt: At = found ? { doc: found.doc, path: ['spec'] } : at(cAt, 'spec');
      if (!condSpec) return;
      const w = condition(imp, condSpec, condAt, periodMs);
      if (!w) return;
      windows.push(w);
      imp.windowAt.set(w, condAt);
      const after = condSpec.condition.alertAfter ? (parseDuration(condSpec.condition.alertAfter) ?? 0) : 0;
      forMs[w.severity] = Math.max(forMs[w.severity] ?? 0, after);
    });
  });
  const catalog = window ? catalogWindows(window) : undefined;
  if (windows.length === 0 && window && !catalog) {
    // OpenSLO does not require alerting: warn, and leave this SLO without burn alerts.
    imp.error(
      at(where, 'timeWindow'),
      `no burn-rate window catalog for this time window (catalogs: ${CATALOG_PERIODS}): this SLO gets no burn-rate alerts; add an alert policy to alert on it`,
      'warning',
    );
  }
  const chosen = windows.length > 0 ? windows : (catalog ?? []);
  const has = (s: Severity) => chosen.some((w) => w.severity === s);
  return {
    windows: chosen,
    minEvents: 10,
    tiers: {
      page: { severity: 'page', enabled: has('page'), forMs: forMs.page ?? (windows.length ? 0 : 120_000) },
      ticket: { severity: 'ticket', enabled: has('ticket'), forMs: forMs.ticket ?? (windows.length ? 0 : 900_000) },
    },
  };
}
