import { sql } from 'drizzle-orm';
import { bigint, bigserial, check, index, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

/**
 * Append-only, hash-chained audit trail. `seq` is assigned by the chainer (not a sequence) so
 * that the chain has no gaps; UPDATE, DELETE and TRUNCATE are rejected by triggers
 * (migrations/0001_audit_append_only.sql). `outbox_id` names the outbox entry the row was
 * chained from (null for entries written before the outbox, migration 0015): unique, so one
 * pending entry is chained once.
 */
export const auditEvents = pgTable(
  'audit_events',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey(),
    /**
     * Milliseconds, all the hash covers (`toISOString`): with microseconds an edit of less than a
     * millisecond left the hash valid. Migration 0019 truncated older values, as the hash had.
     */
    at: timestamp('at', { withTimezone: true, mode: 'date', precision: 3 }).notNull(),
    actorType: text('actor_type').notNull(),
    actorId: text('actor_id').notNull(),
    action: text('action').notNull(),
    subjectType: text('subject_type').notNull(),
    subjectId: text('subject_id').notNull(),
    data: jsonb('data').notNull(),
    correlationId: text('correlation_id'),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
    outboxId: bigint('outbox_id', { mode: 'number' }),
  },
  (t) => [
    index('audit_events_subject_idx').on(t.subjectType, t.subjectId),
    index('audit_events_correlation_idx').on(t.correlationId),
    uniqueIndex('audit_events_outbox_id_idx').on(t.outboxId),
    // verify walks seq 1, 2, …: a row below 1 would be invisible to it (and could release an outbox entry unseen).
    check('audit_events_seq_positive', sql`${t.seq} >= 1`),
  ],
);

/**
 * Entries committed but not yet chained (src/audit/ARCHITECTURE.md). Written in the
 * transaction of the change they record, without any lock; the chainer copies them into
 * `audit_events` in `id` order and deletes them. A trigger lets a row leave only once an
 * identical entry is in the chain, and UPDATE/TRUNCATE are rejected (migration 0015).
 */
export const auditOutbox = pgTable('audit_outbox', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  /** Milliseconds, as the chain stores and hashes them: a row written by hand with microseconds is rounded, not stuck. */
  at: timestamp('at', { withTimezone: true, mode: 'date', precision: 3 }).notNull(),
  actorType: text('actor_type').notNull(),
  actorId: text('actor_id').notNull(),
  action: text('action').notNull(),
  subjectType: text('subject_type').notNull(),
  subjectId: text('subject_id').notNull(),
  data: jsonb('data').notNull(),
  correlationId: text('correlation_id'),
  /** Keyed trails: HMAC of the entry (core/entry.ts `pendingFields`); the chainer links only entries it verifies. */
  mac: text('mac'),
  /** The database's clock at insert: what the chain-lag metric and /readyz measure (the `at` clock is injectable). */
  // clock_timestamp(), not now(): a long transaction must not make its entry look old before it commits.
  enqueuedAt: timestamp('enqueued_at', { withTimezone: true, mode: 'date' })
    .notNull()
    .default(sql`clock_timestamp()`),
});
