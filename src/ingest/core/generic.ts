import { z } from 'zod';
import { triggerSeverity } from '../../triggers/event.js';
import { type IngestEvent, canonicalLabels } from './alertmanager.js';
import { storableTimestamp } from '../../core/timestamp.js';
import { keepingProtoKey, stringMap } from '../../core/proto-key.js';

/**
 * The generic webhook event (../../../docs/webhooks.md). Only `id`, `type` and `summary` are
 * required. `key` is an optional extension: the identity that links an event to its later
 * `resolved: true` event; without it the identity is the type and the label set.
 */
export const genericEventSchema = keepingProtoKey(
  z.looseObject({
    id: z.string().min(1).max(200),
    type: z.string().min(1).max(200),
    severity: triggerSeverity.optional(),
    summary: z.string().max(10_000),
    labels: stringMap().default({}),
    annotations: stringMap().default({}),
    occurredAt: storableTimestamp.optional(),
    resolved: z.boolean().default(false),
    key: z.string().min(1).max(500).optional(),
  }),
);

export type GenericEvent = z.infer<typeof genericEventSchema>;

export function normaliseGeneric(source: string, body: GenericEvent, receivedAt: Date): IngestEvent {
  const key = body.key ?? `${body.type}{${canonicalLabels(body.labels)}}`;
  return {
    dedupKey: body.id,
    event: {
      source: `generic:${source}`,
      type: body.type,
      key,
      ...(body.severity ? { severity: body.severity } : {}),
      summary: body.summary,
      labels: body.labels,
      annotations: body.annotations,
      occurredAt: body.occurredAt ? new Date(body.occurredAt) : receivedAt,
      resolved: body.resolved,
      payload: body,
    },
  };
}
