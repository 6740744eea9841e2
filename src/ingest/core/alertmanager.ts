import { z } from 'zod';
import type { TriggerEvent, TriggerSeverity } from '../../triggers/event.js';
import { severityFromLabel } from './severity.js';
import { storableTimestamp } from '../../core/timestamp.js';
import { keepingProtoKey, stringMap } from '../../core/proto-key.js';

/**
 * Alertmanager's webhook payload, version 4
 * (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config), as Grafana's
 * webhook contact point sends it too (version 1). Objects are
 * loose: fields newer Alertmanagers add (`notification_reason`, `routeLabels`, …) are accepted
 * and kept in the stored body and in each event's payload. A key named `__proto__` (a label, an
 * annotation, a field) is kept like any other (../../core/proto-key.ts).
 */
const labelSet = stringMap();
/** Go's RFC 3339 with nanoseconds, and `0001-01-01T00:00:00Z` for "unset". */
const timestamp = storableTimestamp;

export const alertmanagerAlertSchema = keepingProtoKey(
  z.looseObject({
    status: z.enum(['firing', 'resolved']),
    labels: labelSet,
    annotations: labelSet.default({}),
    startsAt: timestamp,
    endsAt: timestamp.optional(),
    generatorURL: z.string().default(''),
    /** Present since Alertmanager 0.19; older payloads fall back to the label set. */
    fingerprint: z.string().min(1).optional(),
  }),
);

export const alertmanagerPayloadSchema = keepingProtoKey(
  z.looseObject({
    // Grafana's webhook contact point sends this payload, with fields of its own (orgId, state,
    // values…), as version 1: the same notification, so it is read the same way.
    version: z.enum(['4', '1'], {
      error: (issue) =>
        `${JSON.stringify(issue.input)?.slice(0, 40) ?? 'undefined'} is neither Alertmanager's webhook payload (version 4) nor Grafana's (version 1); send other events to /webhooks/generic/<source>`,
  }),
  groupKey: z.string(),
  truncatedAlerts: z.int().min(0).default(0),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string(),
  groupLabels: labelSet.default({}),
  commonLabels: labelSet.default({}),
  commonAnnotations: labelSet.default({}),
  externalURL: z.string().default(''),
  alerts: z.array(alertmanagerAlertSchema).max(10_000),
  }),
);

export type AlertmanagerPayload = z.infer<typeof alertmanagerPayloadSchema>;
export type AlertmanagerAlert = z.infer<typeof alertmanagerAlertSchema>;

/** A normalised event plus the key that makes a repeat of it a no-op. */
export interface IngestEvent {
  event: TriggerEvent;
  /** Unique per source: a second event with the same key changes nothing. */
  dedupKey: string;
}

// A name holding any of these could pass for several labels (`a="x",b` = `y` reads as a and b):
// such a name is written quoted. Others, UTF-8 ones such as `service.name` included, are
// written as they are, so identities stored before stay the same.
const AMBIGUOUS_NAME = /["=,\\]/;

/** Label sets are identities in Prometheus; sorted so the same set always gives one string. */
export function canonicalLabels(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${AMBIGUOUS_NAME.test(k) ? JSON.stringify(k) : k}=${JSON.stringify(labels[k])}`)
    .join(',');
}

/**
 * One trigger event per alert. An alert is identified by fingerprint + startsAt (a new firing
 * after a resolution has a new startsAt); its resolution carries the same identity, so the
 * `key` links the two and the status makes them two distinct events.
 */
export function normaliseAlertmanager(payload: AlertmanagerPayload): IngestEvent[] {
  return payload.alerts.map((alert) => {
    const fingerprint = alert.fingerprint ?? `labels:${canonicalLabels(alert.labels)}`;
    const key = `${fingerprint}@${alert.startsAt}`;
    const resolved = alert.status === 'resolved';
    const severity: TriggerSeverity | undefined = severityFromLabel(alert.labels.severity);
    const endsAt = alert.endsAt && !alert.endsAt.startsWith('0001-') ? new Date(alert.endsAt) : undefined;
    const summary = alert.annotations.summary ?? alert.annotations.description ?? alert.labels.alertname ?? 'Alertmanager alert';
    return {
      dedupKey: `${key}|${alert.status}`,
      event: {
        source: 'alertmanager',
        type: resolved ? 'alert.resolved' : 'alert.firing',
        key,
        ...(severity ? { severity } : {}),
        summary,
        labels: alert.labels,
        annotations: alert.annotations,
        occurredAt: resolved && endsAt ? endsAt : new Date(alert.startsAt),
        resolved,
        groupKey: payload.groupKey,
        payload: {
          alert,
          receiver: payload.receiver,
          groupKey: payload.groupKey,
          groupLabels: payload.groupLabels,
          externalURL: payload.externalURL,
          ...('notification_reason' in payload ? { notificationReason: payload.notification_reason } : {}),
        },
      },
    };
  });
}
