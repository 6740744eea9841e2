import { doublePrecision, integer, pgTable, primaryKey, real, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * SLO evaluations, stored compactly: one narrow row per SLO per evaluation with the events of
 * the interval since the previous one (so rows add up: attainment over any period is
 * Σerrors / Σtotal) and the budget remaining at that moment (so reports can draw it). Rows older
 * than a week are merged into hourly rows, older than 400 days into daily ones (store.ts).
 */
export const sloSamples = pgTable(
  'slo_samples',
  {
    slo: text('slo').notNull(),
    at: timestamp('at', { withTimezone: true, mode: 'date' }).notNull(),
    /** Seconds the row covers: the evaluation interval, 3600 or 86400 once down-sampled. */
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
