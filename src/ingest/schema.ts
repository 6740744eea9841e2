import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * The durable inbox: one row per accepted webhook delivery (or SLO trigger event), written
 * before the 202 and processed afterwards by the ingest workers. The unique indexes are the
 * delivery-level deduplication: a repeat hits ON CONFLICT DO NOTHING and changes nothing.
 * `body` is the exact request body (requests that are not valid UTF-8 are refused, so text
 * round-trips the bytes).
 */
export const ingestInbox = pgTable(
  'ingest_inbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    /** `alertmanager`, `pagerduty`, `generic:<source>`, `slo`. */
    source: text('source').notNull(),
    /** Alertmanager: SHA-256 of the body; PagerDuty: event id; generic: `id`; slo: type|key|occurredAt. */
    deliveryKey: text('delivery_key').notNull(),
    /** PagerDuty's X-Webhook-Id, repeated on every retry of one delivery (replay protection). */
    webhookId: text('webhook_id'),
    receivedAt: at('received_at').notNull(),
    headers: jsonb('headers').notNull(),
    body: text('body').notNull(),
    /** pending → processing → done, or back to pending for a retry, finally dead. */
    status: text('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: at('next_attempt_at').notNull(),
    leaseUntil: at('lease_until'),
    processedAt: at('processed_at'),
    /** How many times processing committed; anything but 0 or 1 would be a bug (the crash test checks it). */
    completions: integer('completions').notNull().default(0),
    lastError: text('last_error'),
    /** When routing decisions were committed (phase 1); a retry after it only finishes the pending effects. */
    decidedAt: at('decided_at'),
  },
  (t) => [
    uniqueIndex('ingest_inbox_delivery_uq').on(t.source, t.deliveryKey),
    uniqueIndex('ingest_inbox_webhook_id_uq').on(t.source, t.webhookId),
    index('ingest_inbox_due_idx').on(t.nextAttemptAt).where(sql`status in ('pending', 'processing')`),
    index('ingest_inbox_dead_idx').on(t.id).where(sql`status = 'dead'`),
  ],
);

/**
 * Normalised events, one per alert or incident event in a delivery. The unique index is the
 * event-level deduplication (Alertmanager fingerprint + startsAt + status, PagerDuty event id,
 * generic id), and a row is written in the same transaction as the run it starts or signals.
 */
export const ingestEvents = pgTable(
  'ingest_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    inboxId: bigint('inbox_id', { mode: 'number' })
      .notNull()
      .references(() => ingestInbox.id),
    source: text('source').notNull(),
    dedupKey: text('dedup_key').notNull(),
    alertKey: text('alert_key').notNull(),
    type: text('type').notNull(),
    resolved: boolean('resolved').notNull(),
    correlationId: text('correlation_id').notNull(),
    /** started | joined | repeat | resolved | signalled | unrouted | duplicate */
    outcome: text('outcome').notNull(),
    playbook: text('playbook'),
    runId: text('run_id'),
    groupKey: text('group_key'),
    event: jsonb('event').notNull(),
    createdAt: at('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('ingest_events_dedup_uq').on(t.source, t.dedupKey),
    index('ingest_events_run_idx').on(t.runId),
    index('ingest_events_outcome_idx').on(t.outcome),
  ],
);

/**
 * Alert state per identity: whether it is firing and which runs it started or joined
 * (resolution goes to them). Runs are named by their *handle*, the correlation id of the event
 * that started them: it is known when the decision commits, before the engine has created the
 * run, and the engine stores it on the run (engine_runs.correlation_id).
 */
export const ingestAlerts = pgTable(
  'ingest_alerts',
  {
    source: text('source').notNull(),
    alertKey: text('alert_key').notNull(),
    status: text('status').notNull(),
    /** Run handles (see above). */
    runIds: jsonb('run_ids').$type<string[]>().notNull(),
    firstSeenAt: at('first_seen_at').notNull(),
    lastSeenAt: at('last_seen_at').notNull(),
    resolvedAt: at('resolved_at'),
  },
  (t) => [primaryKey({ columns: [t.source, t.alertKey] })],
);

/** Storm control: the open run per playbook and grouping key, joined by matching events until the window ends. */
export const ingestGroups = pgTable(
  'ingest_groups',
  {
    playbook: text('playbook').notNull(),
    groupKey: text('group_key').notNull(),
    /** The open run's handle (the correlation id it was started with). */
    runId: text('run_id').notNull(),
    openedAt: at('opened_at').notNull(),
    windowEndsAt: at('window_ends_at').notNull(),
    members: integer('members').notNull(),
  },
  (t) => [primaryKey({ columns: [t.playbook, t.groupKey] })],
);

/**
 * The outbox between routing and the engine. Decisions commit in one transaction with the
 * effects they imply (start a run, signal a run); the effects are then carried out one by one,
 * each idempotently: a start first looks for a run with its handle as correlation id, a signal
 * carries its effect id as idempotency key. So a crash anywhere neither loses nor repeats one.
 */
export const ingestEffects = pgTable(
  'ingest_effects',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    inboxId: bigint('inbox_id', { mode: 'number' })
      .notNull()
      .references(() => ingestInbox.id),
    eventId: bigint('event_id', { mode: 'number' }).notNull(),
    /** `start` or `signal`. */
    kind: text('kind').notNull(),
    /** The run's handle: correlation id of its starting event. */
    runHandle: text('run_handle').notNull(),
    playbook: text('playbook'),
    signal: text('signal'),
    payload: jsonb('payload').notNull(),
    /** The engine's run id, once known. */
    runId: text('run_id'),
    doneAt: at('done_at'),
  },
  (t) => [
    index('ingest_effects_pending_idx').on(t.inboxId, t.id).where(sql`done_at is null`),
    index('ingest_effects_handle_idx').on(t.runHandle),
  ],
);
