import { z } from 'zod';
import { stringMap } from '../core/proto-key.js';

/**
 * A trigger event: the one shape every source feeds into routing (Alertmanager, PagerDuty and
 * generic webhooks, SLO burn alerts, drills, manual starts). Routing matches playbook
 * `triggers` against it; a run keeps the events attached to it.
 */
export const triggerSeverity = z.enum(['critical', 'error', 'warning', 'info']);

export const triggerEventSchema = z.object({
  /** Where it came from: `alertmanager`, `pagerduty`, `generic:<source>`, `slo`, `drill`, `manual`. */
  source: z.string().min(1),
  /** What happened, dotted: `alert.firing`, `alert.resolved`, `incident.triggered`, `slo.burn`, `slo.recovered`, … */
  type: z.string().min(1),
  /** Identity of the underlying alert or incident, stable across repeats; deduplication and resolution key on it. */
  key: z.string().min(1),
  severity: triggerSeverity.optional(),
  summary: z.string(),
  // Every key as sent, `__proto__` included (z.record drops that one: ../core/proto-key.ts).
  labels: stringMap().default({}),
  annotations: stringMap().default({}),
  occurredAt: z.coerce.date(),
  /** True for events that end an alert or incident (`alert.resolved`, `slo.recovered`, …). */
  resolved: z.boolean().default(false),
  /** Alerts sharing a group key within a window join one run (storm control). */
  groupKey: z.string().optional(),
  /** SLO burn details for `slo.*` events. */
  slo: z
    .object({
      name: z.string(),
      service: z.string().optional(),
      severity: z.enum(['page', 'ticket']),
      burnRates: z.record(z.string(), z.number()).default({}),
      budgetRemaining: z.number().nullable().optional(),
    })
    .optional(),
  /** The source's payload, kept verbatim for the run context. */
  payload: z.unknown().optional(),
  /** Follows the event through routing, the run, its steps and the audit trail. */
  correlationId: z.string().optional(),
});

export type TriggerEvent = z.infer<typeof triggerEventSchema>;
export type TriggerSeverity = z.infer<typeof triggerSeverity>;
