import { jsonb, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

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
    postedAt: ts('posted_at'),
  },
  (t) => [primaryKey({ columns: [t.periodStart, t.periodEnd] })],
);
