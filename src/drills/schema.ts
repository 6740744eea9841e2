import { index, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import type { ScenarioStart } from '../runs/control.js';
import type { TriggerEvent } from '../triggers/event.js';
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

/**
 * Armed scenario drills (scenarios.ts), so that a restart or a crash of the replica that armed
 * one does not drop it: whichever replica holds the lease (`owner`, `lease_until`, judged by the
 * database's clock) evaluates it, rebuilding its evaluator from the scenario file and `armed_at`
 * (the synthetic script is anchored there). `state` leaves `armed` once, by a conditional
 * update: `firing` (its alert fired: `fire_event` is the DRILL run's trigger, and whoever holds
 * the row starts that run, under the start key `drill:<id>`), then `fired` (with the run);
 * or `expired`, or `lost` (its scenario or playbook is gone). A `firing` row never expires.
 */
export const drillArmedScenarios = pgTable(
  'drill_armed_scenarios',
  {
    id: text('id').primaryKey(),
    scenario: text('scenario').notNull(),
    playbook: text('playbook').notNull(),
    /** The request as it was armed: playbook, scenario, the caller's extra faults, inputs, who, via. */
    start: jsonb('start').$type<ScenarioStart>().notNull(),
    correlationId: text('correlation_id').notNull(),
    state: text('state').$type<'armed' | 'firing' | 'fired' | 'expired' | 'lost'>().notNull(),
    fireEvent: jsonb('fire_event').$type<TriggerEvent>(),
    armedAt: timestamp('armed_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull(),
    owner: text('owner'),
    leaseUntil: timestamp('lease_until', { withTimezone: true, mode: 'date', precision: 3 }),
    runId: text('run_id'),
    endedAt: timestamp('ended_at', { withTimezone: true, mode: 'date', precision: 3 }),
  },
  (t) => [index('drill_armed_scenarios_state_idx').on(t.state)],
);
