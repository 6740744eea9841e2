import type { Clock } from '../core/clock.js';
import type { Database } from '../db/database.js';
import type { TriggerEvent } from '../triggers/event.js';
import type { TriggerSink } from '../triggers/sink.js';
import { TRIGGER_PREFIX, triggerDeliveryKey } from './core/normalise.js';
import { insertDelivery } from './inbox.js';
import type { IngestMetrics } from './metrics.js';
import { eventJson } from './dispatch.js';

/**
 * The trigger port as ingest implements it: in-process events (the SLO evaluator's
 * `slo.burn` / `slo.recovered`) go into the same inbox as webhooks, so they are deduplicated,
 * routed, storm-grouped, retried and audited by the same pipeline. `emit` resolves once the
 * event is committed, as the port promises.
 */
export function inboxTriggerSink(deps: { db: Database; clock: Clock; metrics: IngestMetrics; wake?: () => void }): TriggerSink {
  return {
    async emit(event: TriggerEvent) {
      const source = `${TRIGGER_PREFIX}${event.source}`;
      deps.metrics.received.inc({ source });
      const stored = await insertDelivery(deps.db, {
        source,
        deliveryKey: triggerDeliveryKey(event),
        receivedAt: deps.clock.now(),
        headers: {},
        body: JSON.stringify(eventJson(event)),
      });
      if (stored) {
        deps.metrics.accepted.inc({ source });
        deps.wake?.();
      } else deps.metrics.dedupHits.inc({ source, level: 'delivery' });
    },
  };
}
