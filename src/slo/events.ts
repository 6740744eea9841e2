import type { Severity, Slo } from './core/model.js';
import type { SloStatus } from './core/status.js';
import type { TriggerEvent } from './../triggers/event.js';

const pct = (r: number | null) => (r === null ? 'unknown' : `${(r * 100).toFixed(1)}%`);

/**
 * The trigger event for a burn alert that starts firing (`slo.burn`) or resolves
 * (`slo.recovered`). The key is stable per SLO and severity, so routing can pair a recovery
 * with the run its burn started; the playbook named in the SLO rides along as a label.
 */
export function burnEvent(
  slo: Slo,
  severity: Severity,
  kind: 'burn' | 'recovered',
  status: SloStatus,
  windows: string[],
  now: Date,
): TriggerEvent {
  const burnRates: Record<string, number> = {};
  for (const [w, v] of Object.entries(status.burnRates)) if (v !== null) burnRates[w] = v;
  const fastest = Object.entries(burnRates)[0];
  const playbook = slo.alerting.tiers[severity].playbook;
  const summary =
    kind === 'burn'
      ? `SLO ${slo.name} (${slo.service}) is burning its error budget (${severity}): ${windows.join(', ')}; ${pct(status.errorBudget.remaining)} of the budget left`
      : `SLO ${slo.name} (${slo.service}) ${severity} burn has stopped${fastest ? `: ${fastest[1].toFixed(2)}x over ${fastest[0]}` : ''}; ${pct(status.errorBudget.remaining)} of the budget left`;
  return {
    source: 'slo',
    type: kind === 'burn' ? 'slo.burn' : 'slo.recovered',
    key: `slo:${slo.name}:${severity}`,
    severity: severity === 'page' ? 'critical' : 'warning',
    summary,
    labels: {
      ...slo.labels,
      slo: slo.name,
      service: slo.service,
      severity,
      ...(playbook ? { playbook } : {}),
      ...(slo.owner?.team ? { team: slo.owner.team } : {}),
    },
    annotations: {
      windows: windows.join(', '),
      objective: String(slo.objective),
      ...(slo.owner?.slack ? { slack: slo.owner.slack } : {}),
      ...(slo.description ? { description: slo.description } : {}),
    },
    occurredAt: now,
    resolved: kind === 'recovered',
    groupKey: `slo:${slo.name}`,
    slo: { name: slo.name, service: slo.service, severity, burnRates, budgetRemaining: status.errorBudget.remaining },
    payload: { windows, timeToExhaustionSeconds: status.timeToExhaustionSeconds },
  };
}
