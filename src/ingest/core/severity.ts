import type { TriggerSeverity } from '../../triggers/event.js';

// A Map, not an object literal: a sender's word such as `__proto__` or `constructor` must not
// read Object.prototype's members as a severity (the run's start then refused the event).
const aliases = new Map<string, TriggerSeverity>([
  ['critical', 'critical'],
  ['page', 'critical'],
  ['error', 'error'],
  ['high', 'error'],
  ['warning', 'warning'],
  ['warn', 'warning'],
  ['info', 'info'],
  ['low', 'info'],
]);

/** Alert rules spell severity many ways; the common ones map onto Quench's four levels, others are left unset. */
export function severityFromLabel(value: string | undefined): TriggerSeverity | undefined {
  return value === undefined ? undefined : aliases.get(value.toLowerCase());
}
