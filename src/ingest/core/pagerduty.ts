import { z } from 'zod';
import type { TriggerSeverity } from '../../triggers/event.js';
import type { IngestEvent } from './alertmanager.js';
import { storableTimestamp } from '../../core/timestamp.js';
import { keepingProtoKey } from '../../core/proto-key.js';

/**
 * PagerDuty V3 webhook payload
 * (https://developer.pagerduty.com/docs/webhooks/v3-overview/): `{ event: { id, event_type,
 * resource_type, occurred_at, agent, data } }`. `data` is the incident for most `incident.*`
 * events; for the others it is a resource of its own that names the incident by reference
 * (`incident_note` for `incident.annotated`, `incident_responder`, `incident_status_update`,
 * and the field-value, conference-bridge and workflow data PagerDuty has added since). Loose
 * objects: PagerDuty adds fields without notice.
 */
// PagerDuty drops a delivery answered 4xx for good, so only what becomes an identity or a label is
// checked, and null is taken as absent; every other field is kept as sent.
const reference = z.looseObject({ id: z.string(), summary: z.string().nullish() });

const notANumber = (issue: { input?: unknown }) =>
  `${JSON.stringify(issue.input)?.slice(0, 40) ?? 'undefined'} is not an incident number: send an integer (2), or its digits as a string ("2")`;

const incidentData = z.looseObject({
  id: z.string().min(1),
  type: z.literal('incident'),
  title: z.string().nullish(),
  urgency: z.string().nullish(),
  // An integer in PagerDuty's schema; some proxies and re-senders write numbers as strings, and
  // PagerDuty drops a delivery answered 4xx for good. It only becomes the label
  // incident_number (a string anyway), so digits in a string are taken as the same number;
  // anything else is refused naming the field. The stored body and payload keep what was sent.
  number: z.union([z.int(), z.string().regex(/^\d{1,15}$/, { error: notANumber })], { error: notANumber }).nullish(),
  incident_key: z.string().nullish(),
  service: reference.nullish(),
  priority: reference.nullish(),
});

/** Data that is not the incident but about one: `incident` is a reference to it. */
const incidentLinked = z.looseObject({ type: z.string(), incident: reference });

/** The data types whose text says what happened (it becomes the event's summary), and the incident itself. */
const dataSchemas = new Map<string, z.ZodType>([
  ['incident', incidentData],
  ['incident_note', incidentLinked.extend({ content: z.string().nullish() })],
  ['incident_status_update', incidentLinked.extend({ message: z.string().nullish() })],
  ['incident_responder', incidentLinked.extend({ message: z.string().nullish() })],
]);
const linkedText = (data: Record<string, unknown>): string | undefined => {
  const text = data.type === 'incident_note' ? data.content : data.message;
  return typeof text === 'string' && text !== '' ? text : undefined;
};

/**
 * Checked by its `type`: an incident, or a known incident-linked resource, must have the shape
 * PagerDuty documents, with a message that names the failing field. A union with a catch-all
 * member took a malformed incident for "some other resource", answered 202, and failed when
 * its run started; any other type is accepted as it is.
 */
const eventData = keepingProtoKey(z.looseObject({ type: z.string() })).superRefine((data, ctx) => {
  const result = dataSchemas.get(data.type)?.safeParse(data);
  if (result && !result.success) for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
});

export const pagerdutyPayloadSchema = keepingProtoKey(
  z.looseObject({
    event: keepingProtoKey(
      z.looseObject({
        id: z.string().min(1).max(200),
        event_type: z.string().min(1),
        resource_type: z.string().min(1),
        occurred_at: storableTimestamp,
        agent: z.unknown().optional(),
        data: eventData,
      }),
    ),
  }),
);

export type PagerDutyPayload = z.infer<typeof pagerdutyPayloadSchema>;
type Incident = z.infer<typeof incidentData>;

// A Map, not an object literal: an urgency such as `__proto__` must not read Object.prototype.
const urgencySeverity = new Map<string, TriggerSeverity>([
  ['high', 'critical'],
  ['low', 'warning'],
]);

/** The incident's own fields as labels, for playbook triggers to match. */
function incidentLabels(inc: Incident, labels: Record<string, string>): void {
  if (inc.service?.summary) labels.service = inc.service.summary;
  if (inc.service?.id) labels.service_id = inc.service.id;
  if (inc.urgency) labels.urgency = inc.urgency;
  if (inc.priority?.summary) labels.priority = inc.priority.summary;
  if (inc.number != null) labels.incident_number = String(Number(inc.number));
  // The Events v2 dedup key of the alert that opened the incident: Quench's own pages carry
  // a run's correlation id here (src/ingest/dispatch.ts recognises them).
  if (inc.incident_key) labels.incident_key = inc.incident_key;
}

/**
 * One event per webhook. The incident id is the alert identity (triggered → resolved of one
 * incident, and every note, responder, status update… about it, share it); the event id is
 * the deduplication key. Events about other resources (`pagey.ping`, services) are kept with
 * the resource id as their key and route like any other.
 */
export function normalisePagerDuty(payload: PagerDutyPayload): IngestEvent {
  const { event } = payload;
  const data = event.data as Record<string, unknown> & { type: string };
  const labels: Record<string, string> = { resource_type: event.resource_type };
  let severity: TriggerSeverity | undefined;
  let summary: string = event.event_type;
  let incidentId: string | undefined;
  if (data.type === 'incident') {
    const inc = incidentData.parse(data);
    incidentLabels(inc, labels);
    severity = inc.urgency ? urgencySeverity.get(inc.urgency) : undefined;
    summary = inc.title || summary;
    incidentId = inc.id;
  } else {
    const linked = incidentLinked.safeParse(data);
    if (linked.success) {
      incidentId = linked.data.incident.id;
      summary = linkedText(data) ?? summary;
    }
  }
  const key = incidentId !== undefined ? `incident:${incidentId}` : `${event.resource_type}:${String(data.id ?? event.id)}`;
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
