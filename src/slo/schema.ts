import { doublePrecision, integer, pgTable, primaryKey, real, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * SLO evaluations, stored compactly: one narrow row per SLO per stored evaluation with the
 * counts over its own window (window_start, at] — events, or slices for the time-slice methods —
 * read as increases over that window, not rate snapshots. Consecutive windows are adjacent (each
 * starts at the previous row's `at`), so rows add up: attainment over any period is
 * Σerrors / Σtotal. Plus the budget remaining at `at` (so reports can draw it). Rows older than
 * 8 days are merged into hourly rows, older than 400 days into daily ones (store.ts): a merged
 * row's window is the union of its rows' (earliest window_start, latest at], its counts their sums.
 */
export const sloSamples = pgTable(
  'slo_samples',
  {
    slo: text('slo').notNull(),
    /** The evaluation's time: the end of the row's window (the latest merged row's once down-sampled). */
    at: timestamp('at', { withTimezone: true, mode: 'date' }).notNull(),
    /** Start (exclusive) of the window the counts cover: the previous row's `at`. */
    windowStart: timestamp('window_start', { withTimezone: true, mode: 'date' }).notNull(),
    /** The tier: seconds of the row's window for evaluation rows, 3600 or 86400 once down-sampled. */
    resolutionS: integer('resolution_s').notNull(),
    errors: doublePrecision('errors').notNull(),
    total: doublePrecision('total').notNull(),
    /** Share of the SLO window's budget left; null without data. */
    budgetRemaining: real('budget_remaining'),
    /** Burn rate over the fastest page window (1h by default); the maximum once down-sampled. */
    burnRate: real('burn_rate'),
  },
  (t) => [primaryKey({ columns: [t.slo, t.resolutionS, t.at] })],
);

/** Alert state per SLO and severity, so a restart neither re-pages nor forgets a firing alert. */
export const sloAlertStates = pgTable(
  'slo_alert_states',
  {
    slo: text('slo').notNull(),
    severity: text('severity').notNull(),
    status: text('status').notNull(),
    since: timestamp('since', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.slo, t.severity] })],
);
