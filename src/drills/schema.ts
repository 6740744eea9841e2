import { index, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import type { Scorecard } from './core/scorecard.js';

/**
 * One scorecard per finished drill run (src/drills/core/scorecard.ts). The primary key makes
 * scoring exactly-once across replicas: whoever inserts the row posts it. The weekly report
 * reads this table (`ended_at` for the period, `final_state`, `gaps` count, `scorecard`).
 */
export const drillScorecards = pgTable(
  'drill_scorecards',
  {
    runId: text('run_id').primaryKey(),
    playbook: text('playbook').notNull(),
    finalState: text('final_state').notNull(),
    /** How many gaps the drill found (steps without an owner, without compensation, SLAs breached). */
    gaps: jsonb('gaps').$type<number>().notNull(),
    scorecard: jsonb('scorecard').$type<Scorecard>().notNull(),
    startedAt: timestamp('started_at', { withTimezone: true, mode: 'date' }).notNull(),
    endedAt: timestamp('ended_at', { withTimezone: true, mode: 'date' }).notNull(),
    scoredAt: timestamp('scored_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [index('drill_scorecards_ended_idx').on(t.endedAt)],
);
