import { type TriggerEvent, triggerEventSchema } from '../../triggers/event.js';
import { type IngestEvent, alertmanagerPayloadSchema, normaliseAlertmanager } from './alertmanager.js';
import { genericEventSchema, normaliseGeneric } from './generic.js';
import { normalisePagerDuty, pagerdutyPayloadSchema } from './pagerduty.js';

/** Inbox source of events emitted in-process through the trigger port (SLO burns): `trigger:<event source>`. */
export const TRIGGER_PREFIX = 'trigger:';

/** The delivery key of an in-process trigger event: one per transition of one alert. */
export const triggerDeliveryKey = (e: TriggerEvent) => `${e.type}|${e.key}|${e.occurredAt.toISOString()}`;

/**
 * Turns a stored inbox body back into events. The body was validated before the 202, so a
 * failure here means the schema changed under a stored row; the error says which field.
 */
export function normaliseDelivery(source: string, body: unknown, receivedAt: Date): IngestEvent[] {
  if (source === 'alertmanager') return normaliseAlertmanager(alertmanagerPayloadSchema.parse(body));
  if (source === 'pagerduty') return [normalisePagerDuty(pagerdutyPayloadSchema.parse(body))];
  if (source.startsWith('generic:')) return [normaliseGeneric(source.slice('generic:'.length), genericEventSchema.parse(body), receivedAt)];
  if (source.startsWith(TRIGGER_PREFIX)) {
    const event = triggerEventSchema.parse(body);
    return [{ event, dedupKey: triggerDeliveryKey(event) }];
  }
  throw new Error(`no normaliser for inbox source '${source}'`);
}
