import type { TriggerSeverity } from '../../triggers/event.js';

const aliases: Record<string, TriggerSeverity> = {
  critical: 'critical',
  page: 'critical',
  error: 'error',
  high: 'error',
  warning: 'warning',
  warn: 'warning',
  info: 'info',
  low: 'info',
};

/** Alert rules spell severity many ways; the common ones map onto Quench's four levels, others are left unset. */
export function severityFromLabel(value: string | undefined): TriggerSeverity | undefined {
  return value === undefined ? undefined : aliases[value.toLowerCase()];
}
