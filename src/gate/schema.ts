import { sql } from 'drizzle-orm';
import { index, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

/**
 * The deploy gate's state. Every replica answers the gate from these rows (held in memory,
 * refreshed on NOTIFY `quench_gate` and by a short poll); only the leader writes budgets and
 * automatic freezes.
 */

/** The latest SLO evaluation per budget, written by the leader after each cycle. */
export const gateBudgets = pgTable('gate_budgets', {
  slo: text('slo').primaryKey(),
  service: text('service').notNull(),
  /** The SLO status as `GET /v1/slos/:name` shows it. */
  status: jsonb('status').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
});

export const gateFreezes = pgTable(
  'gate_freezes',
  {
    id: text('id').primaryKey(),
    kind: text('kind').notNull(),
    services: jsonb('services').$type<string[]>().notNull(),
    slo: text('slo'),
    blocks: text('blocks').notNull(),
    reason: text('reason').notNull(),
    evidence: jsonb('evidence').$type<Record<string, unknown>>().notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    until: timestamp('until', { withTimezone: true, mode: 'date' }),
    liftedAt: timestamp('lifted_at', { withTimezone: true, mode: 'date' }),
    liftedBy: text('lifted_by'),
    liftReason: text('lift_reason'),
    /** The playbook run that froze (deploy.freeze), so its compensation lifts exactly these. */
    runId: text('run_id'),
  },
  (t) => [
    // One open automatic freeze per SLO, even if two replicas briefly both believed they led.
    uniqueIndex('gate_freezes_one_auto_per_slo').on(t.slo).where(sql`kind = 'auto' and lifted_at is null`),
    index('gate_freezes_open').on(t.liftedAt),
  ],
);

export const gateOverrides = pgTable('gate_overrides', {
  id: text('id').primaryKey(),
  service: text('service').notNull(),
  changeId: text('change_id'),
  reason: text('reason').notNull(),
  requestedBy: text('requested_by').notNull(),
  approvers: jsonb('approvers').$type<string[]>().notNull(),
  /** Every alias of the requester (token user, Slack id, `slack:<id>`, email): four-eyes compares people, not strings. */
  requesterAliases: jsonb('requester_aliases').$type<string[]>().notNull().default([]),
  /** Per approver, in `approvers` order, their aliases. */
  approverAliases: jsonb('approver_aliases').$type<string[][]>().notNull().default([]),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
  until: timestamp('until', { withTimezone: true, mode: 'date' }).notNull(),
  /** Set once when it ends (expiry announced) or is revoked. */
  endedAt: timestamp('ended_at', { withTimezone: true, mode: 'date' }),
});
