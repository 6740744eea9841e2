import { sql } from 'drizzle-orm';
import { bigserial, boolean, index, integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * The chat side of human steps: who a step is assigned to and where its Slack message is, the
 * SLA timer, the incident thread per run, round-robin cursors, and the inbox of acknowledged
 * Slack interactions. The engine owns the step itself (status, approvals, decision); these
 * tables only say how it is offered to people.
 */
const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const chatHumanSteps = pgTable(
  'chat_human_steps',
  {
    /** The engine's step id. */
    stepId: text('step_id').primaryKey(),
    runId: text('run_id').notNull(),
    correlationId: text('correlation_id').notNull(),
    /** The engine's HumanStepView as notified (prompt, risk, required approvals, who started the run). */
    view: jsonb('view').notNull(),
    playbook: text('playbook').notNull(),
    /** The run's trigger severity; the priority queue offers higher severities first. */
    severity: text('severity'),
    /** `queued` (nobody has room under the WIP limit), `offered`, `decided`, `timed_out`, `cancelled`. */
    status: text('status').notNull(),
    /** The step's `assign` as planned, and the escalation level reached (PagerDuty). */
    assign: jsonb('assign'),
    level: integer('level').notNull().default(1),
    /** Slack user group, for WIP accounting and the group's queue. */
    groupId: text('group_id'),
    /** Person[] (see core/decision-policy.ts): who may decide now. */
    assignees: jsonb('assignees').notNull(),
    /** Within, remindAt, escalateTo, reassign: the step's `sla` in milliseconds. */
    sla: jsonb('sla'),
    queuedAt: ts('queued_at').notNull(),
    offeredAt: ts('offered_at'),
    decidedAt: ts('decided_at'),
    remindedAt: ts('reminded_at'),
    escalatedAt: ts('escalated_at'),
    /** The durable SLA timer: when the next reminder or escalation is due; NULL when none is. */
    timerAt: ts('timer_at'),
    channel: text('channel'),
    messageTs: text('message_ts'),
    /** An auto-approval sampled for later human review. */
    flaggedForReview: boolean('flagged_for_review').notNull().default(false),
  },
  (t) => [
    index('chat_human_steps_timer_idx').on(t.timerAt).where(sql`timer_at is not null`),
    index('chat_human_steps_queue_idx').on(t.groupId, t.status, t.queuedAt),
    index('chat_human_steps_run_idx').on(t.runId),
  ],
);

/** One incident thread per run: the header message everything else replies to. */
export const chatRunThreads = pgTable('chat_run_threads', {
  runId: text('run_id').primaryKey(),
  channel: text('channel').notNull(),
  ts: text('ts').notNull(),
  acknowledgedBy: text('acknowledged_by'),
  acknowledgedAt: ts('acknowledged_at'),
  updatedAt: ts('updated_at').notNull(),
});

/** Round-robin position per Slack user group. */
export const chatGroupCursors = pgTable('chat_group_cursors', {
  groupId: text('group_id').primaryKey(),
  cursor: integer('cursor').notNull().default(0),
});

/**
 * Slack interactions acknowledged but maybe not yet handled. The unique `key` (user, action
 * timestamp, action) makes Slack's retries and replays of the same click no-ops; a sweeper
 * handles rows whose processing was cut short by a crash.
 */
export const chatInbox = pgTable(
  'chat_inbox',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    key: text('key').notNull().unique(),
    item: jsonb('item').notNull(),
    receivedAt: ts('received_at').notNull(),
    processedAt: ts('processed_at'),
    attempts: integer('attempts').notNull().default(0),
    error: text('error'),
  },
  (t) => [index('chat_inbox_pending_idx').on(t.receivedAt).where(sql`processed_at is null`)],
);

/**
 * A person's review of an auto-approval sampled for review (`flagged_for_review`): one per step,
 * the primary key is what makes a second review impossible, whichever path or replica tries.
 */
export const chatReviews = pgTable('chat_reviews', {
  stepId: text('step_id').primaryKey(),
  runId: text('run_id').notNull(),
  /** `agree` (the policy was right to auto-approve) or `disagree`. */
  verdict: text('verdict').notNull(),
  note: text('note'),
  /** The reviewer: Slack user id or API token user, and a display name. */
  reviewer: text('reviewer').notNull(),
  reviewerName: text('reviewer_name').notNull(),
  via: text('via').notNull(),
  reviewedAt: ts('reviewed_at').notNull(),
});
