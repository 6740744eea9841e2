import { integer, jsonb, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * One row per report period, claimed before the report is computed: the primary key makes a
 * cron that fires twice, or two replicas, produce one report. The computed report model is
 * stored with it, so a past period's report is served as computed, never recomputed.
 */
export const reportPeriods = pgTable(
  'report_periods',
  {
    periodStart: ts('period_start').notNull(),
    periodEnd: ts('period_end').notNull(),
    /** `scheduled` (cron or catch-up) or `on_demand`. */
    origin: text('origin').notNull(),
    claimedBy: text('claimed_by').notNull(),
    claimedAt: ts('claimed_at').notNull(),
    /** The report model (src/reports/core/model.ts); null while the claimant computes it. */
    report: jsonb('report'),
    completedAt: ts('completed_at'),
    /** Every message of a scheduled report reached Slack (posting.ts). */
    postedAt: ts('posted_at'),
    /**
     * A scheduled report's posting, resumable (posting.ts): per channel, its thread and which
     * messages reached Slack, saved after each one, so a retry posts only what is missing.
     */
    postProgress: jsonb('post_progress').notNull().default({}),
    /** Who posts it now, until when: a retry never posts beside the claimant or another replica. */
    postLeaseBy: text('post_lease_by'),
    postLeaseUntil: ts('post_lease_until'),
    /** Failed posting tries, the next one's time (back-off) and the last failure, for the operator. */
    postTries: integer('post_tries').notNull().default(0),
    postNextAt: ts('post_next_at'),
    postError: text('post_error'),
  },
  (t) => [primaryKey({ columns: [t.periodStart, t.periodEnd] })],
);
