import { Counter, Gauge, type Registry } from 'prom-client';

/** Ingest's metrics, registered on the service's registry. Source labels are bounded: configured sources only. */
export interface IngestMetrics {
  received: Counter<'source'>;
  accepted: Counter<'source'>;
  rejected: Counter<'source' | 'reason'>;
  dedupHits: Counter<'source' | 'level'>;
  processed: Counter<'source' | 'outcome'>;
  unrouted: Counter<'source'>;
  stormMerges: Counter<'playbook'>;
  retries: Counter<'source'>;
  deadLettered: Counter<'source'>;
  truncatedAlerts: Counter<'receiver'>;
  inboxLag: Gauge;
  inboxPending: Gauge;
  inboxDead: Gauge;
}

export function createIngestMetrics(
  registry: Registry,
  inboxStats: () => Promise<{ lagSeconds: number; pending: number }>,
  deadCount: () => Promise<number> = async () => 0,
): IngestMetrics {
  const registers = [registry];
  let stats: Promise<{ lagSeconds: number; pending: number }> | undefined;
  // Both gauges are read in one scrape; share one query between them.
  const current = () => {
    stats ??= inboxStats().finally(() => setTimeout(() => (stats = undefined), 0));
    return stats;
  };
  return {
    received: new Counter({ name: 'quench_webhook_received_total', help: 'Webhook requests received.', labelNames: ['source'], registers }),
    accepted: new Counter({
      name: 'quench_webhook_accepted_total',
      help: 'Webhook requests durably stored in the inbox (answered 202, duplicates excluded).',
      labelNames: ['source'],
      registers,
    }),
    rejected: new Counter({
      name: 'quench_webhook_rejected_total',
      help: 'Webhook requests refused, by reason (bad_json, schema, too_deep, too_large, bad_signature, rate_limited, …).',
      labelNames: ['source', 'reason'],
      registers,
    }),
    dedupHits: new Counter({
      name: 'quench_ingest_dedup_hits_total',
      help: 'Repeats recognised and ignored: whole deliveries (level=delivery) or single alerts/events (level=event).',
      labelNames: ['source', 'level'],
      registers,
    }),
    processed: new Counter({
      name: 'quench_ingest_events_total',
      help: 'Events processed from the inbox, by outcome (started, joined, signalled, resolved, repeat, unrouted, …).',
      labelNames: ['source', 'outcome'],
      registers,
    }),
    unrouted: new Counter({
      name: 'quench_ingest_unrouted_total',
      help: 'Events no playbook trigger matched (stored with outcome unrouted).',
      labelNames: ['source'],
      registers,
    }),
    stormMerges: new Counter({
      name: 'quench_ingest_storm_merges_total',
      help: 'Events that joined an open run of the same grouping key instead of starting a new one.',
      labelNames: ['playbook'],
      registers,
    }),
    retries: new Counter({
      name: 'quench_ingest_retries_total',
      help: 'Inbox processing failures that will be retried.',
      labelNames: ['source'],
      registers,
    }),
    deadLettered: new Counter({
      name: 'quench_ingest_dead_lettered_total',
      help: 'Inbox entries that failed every attempt (see `quench dlq`).',
      labelNames: ['source'],
      registers,
    }),
    truncatedAlerts: new Counter({
      name: 'quench_alertmanager_truncated_alerts_total',
      help: 'Alerts Alertmanager cut from notifications at the receiver\'s max_alerts (never sent, so never seen by Quench).',
      labelNames: ['receiver'],
      registers,
    }),
    inboxLag: new Gauge({
      name: 'quench_ingest_inbox_lag_seconds',
      help: 'Age of the oldest inbox entry not yet processed (0 when the inbox is drained).',
      registers,
      async collect() {
        this.set((await current()).lagSeconds);
      },
    }),
    inboxPending: new Gauge({
      name: 'quench_ingest_inbox_pending',
      help: 'Inbox entries waiting for processing or being processed.',
      registers,
      async collect() {
        this.set((await current()).pending);
      },
    }),
    inboxDead: new Gauge({
      name: 'quench_ingest_inbox_dead',
      help: 'Inbox entries that failed every attempt and wait for `quench dlq inbox retry`.',
      registers,
      async collect() {
        this.set(await deadCount());
      },
    }),
  };
}
