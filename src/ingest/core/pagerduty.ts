import { z } from 'zod';
import type { TriggerSeverity } from '../../triggers/event.js';
import type { IngestEvent } from './alertmanager.js';
import { storableTimestamp } from '../../core/timestamp.js';

/**
 * PagerDuty V3 webhook payload
 * (https://developer.pagerduty.com/docs/webhooks/v3-overview/): `{ event: { id, event_type,
 * resource_type, occurred_at, agent, data } }`. `data` is the incident for `incident.*` events
 * and an `incident_note` (with `incident` as a reference) for `incident.annotated`. Loose
 * objects: PagerDuty adds fields without notice.
 */
const reference = z.looseObject({ id: z.string(), summary: z.string().optional(), type: z.string().optional() });

const incidentData = z.looseObject({
  id: z.string().min(1),
  type: z.literal('incident'),
  title: z.string().default(''),
  status: z.string().optional(),
  urgency: z.string().optional(),
  number: z.int().optional(),
  html_url: z.string().optional(),
  incident_key: z.string().nullish(),
  service: reference.optional(),
  priority: reference.nullish(),
});

const noteData = z.looseObject({
  type: z.literal('incident_note'),
  content: z.string().default(''),
  incident: reference,
});

export const pagerdutyPayloadSchema = z.looseObject({
  event: z.looseObject({
    id: z.string().min(1).max(200),
    event_type: z.string().min(1),
    resource_type: z.string().min(1),
    occurred_at: storableTimestamp,
    agent: z.unknown().optional(),
    data: z.union([incidentData, noteData, z.looseObject({ type: z.string() })]),
  }),
});

export type PagerDutyPayload = z.infer<typeof pagerdutyPayloadSchema>;

// A Map, not an object literal: an urgency such as `__proto__` must not read Object.prototype.
const urgencySeverity = new Map<string, TriggerSeverity>([
  ['high', 'critical'],
  ['low', 'warning'],
]);

/**
 * One event per webhook. The incident id is the alert identity (triggered → resolved of one
 * incident share it); the event id is the deduplication key. Events about other resources
 * (`pagey.ping`, services) are kept with the resource id as their key and route like any other.
 */
export function normalisePagerDuty(payload: PagerDutyPayload): IngestEvent {
  const { event } = payload;
  const data = event.data as Record<string, unknown> & { type: string };
  const incident =
    data.type === 'incident'
      ? (data as z.infer<typeof incidentData>)
      : data.type === 'incident_note'
        ? (data as z.infer<typeof noteData>).incident
        : undefined;
  const labels: Record<string, string> = { resource_type: event.resource_type };
  let severity: TriggerSeverity | undefined;
  let summary: string = event.event_type;
  if (data.type === 'incident') {
    const inc = data as z.infer<typeof incidentData>;
    if (inc.service?.summary) labels.service = inc.service.summary;
    if (inc.service?.id) labels.service_id = inc.service.id;
    if (inc.urgency) labels.urgency = inc.urgency;
    if (inc.priority?.summary) labels.priority = inc.priority.summary;
    if (inc.number !== undefined) labels.incident_number = String(inc.number);
    // The Events v2 dedup key of the alert that opened the incident: Quench's own pages carry
    // a run's correlation id here (src/ingest/dispatch.ts recognises them).
    if (inc.incident_key) labels.incident_key = inc.incident_key;
    severity = inc.urgency ? urgencySeverity.get(inc.urgency) : undefined;
    summary = inc.title || summary;
  } else if (data.type === 'incident_note') {
    summary = (data as z.infer<typeof noteData>).content || summary;
  }
  const key = incident ? `incident:${incident.id}` : `${event.resource_type}:${String((data as { id?: unknown }).id ?? event.id)}`;
  const resolved = event.event_type === 'incident.resolved';
  return {
    dedupKey: event.id,
    event: {
      source: 'pagerduty',
      type: event.event_type,
      key,
      ...(severity ? { severity } : {}),
      summary,
      labels,
      annotations: {},
      occurredAt: new Date(event.occurred_at),
      resolved,
      payload,
    },
  };
}
