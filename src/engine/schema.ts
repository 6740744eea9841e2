import { sql } from 'drizzle-orm';
import { bigserial, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

/**
 * Durable execution state. Everything a worker needs to resume a run after a crash is here;
 * no worker keeps state a restart would lose. See src/engine/ARCHITECTURE.md for the
 * invariants each column serves.
 */
const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const engineRuns = pgTable(
  'engine_runs',
  {
    id: text('id').primaryKey(),
    playbook: text('playbook').notNull(),
    /** Content hash of the playbook version the run is pinned to. */
    playbookHash: text('playbook_hash').notNull(),
    /** The whole playbook as it was at start: editing the file never changes a running run. */
    definition: jsonb('definition').notNull(),
    state: text('state').notNull(),
    trigger: jsonb('trigger'),
    inputs: jsonb('inputs').notNull(),
    correlationId: text('correlation_id').notNull(),
    /**
     * Idempotency key of the start (ingest passes its run handle): unique, so two workers that
     * both start "the" run for one alert get one run, the second adopting the first's.
     */
    startKey: text('start_key'),
    /** Null for real runs; for drills, the options (`fail`: steps that fail on purpose, `scenario`). */
    drill: jsonb('drill'),
    /** Who started it: `system:<component>` or `user:<id>` (nobody approves their own run's steps). */
    startedBy: text('started_by').notNull(),
    /**
     * The starter's other names when a person started it from Slack (Slack id and profile email):
     * the rule that nobody approves their own run compares a decider with all of them, so a
     * token named by either name is the starter too. Null when only `startedBy` is known.
     */
    startedByAliases: jsonb('started_by_aliases').$type<string[]>(),
    /** W3C trace context of the trigger, so run spans join the trace that caused them. */
    traceContext: jsonb('trace_context'),
    error: jsonb('error'),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
    endedAt: ts('ended_at'),
  },
  (t) => [
    index('engine_runs_state_idx').on(t.state, t.createdAt),
    index('engine_runs_correlation_idx').on(t.correlationId),
    uniqueIndex('engine_runs_start_key_uq').on(t.startKey),
    index('engine_runs_created_idx').on(t.createdAt),
  ],
);

export const engineSteps = pgTable(
  'engine_steps',
  {
    id: text('id').primaryKey(),
    runId: text('run_id')
      .notNull()
      .references(() => engineRuns.id),
    /** The playbook step id, or a derived key (`<id>/fallback`, `<id>/compensate`, `<id>/escalate`). */
    stepKey: text('step_key').notNull(),
    kind: text('kind').notNull(),
    status: text('status').notNull(),
    /**
     * The step's durable timer: when a worker must next look at it. Ready steps: when they
     * became ready; retries: the back-off deadline; waits and human steps: their timeout;
     * running steps: the lease expiry (a dead worker's step is taken over then). NULL: only
     * an outside event (decision, signal) can move it.
     */
    wakeAt: ts('wake_at'),
    leaseOwner: text('lease_owner'),
    attempts: integer('attempts').notNull().default(0),
    /** Order in which steps completed: compensation runs in the reverse of it. */
    completedSeq: integer('completed_seq'),
    /** The step as planned: action, rendered-at-run-time parameters, policies (see core/plan.ts). */
    spec: jsonb('spec').notNull(),
    output: jsonb('output'),
    error: jsonb('error'),
    /** Human steps: approvals so far and the final decision. */
    decision: jsonb('decision'),
    createdAt: ts('created_at').notNull(),
    startedAt: ts('started_at'),
    /** The per-step timeout, fixed when the first attempt starts. */
    deadlineAt: ts('deadline_at'),
    endedAt: ts('ended_at'),
  },
  (t) => [
    uniqueIndex('engine_steps_run_key_idx').on(t.runId, t.stepKey),
    // The claim query's index: only steps a worker may have to look at are in it.
    index('engine_steps_wake_idx').on(t.wakeAt).where(sql`wake_at is not null`),
    index('engine_steps_status_idx').on(t.status, t.kind),
  ],
);

export const engineAttempts = pgTable(
  'engine_attempts',
  {
    stepId: text('step_id')
      .notNull()
      .references(() => engineSteps.id),
    attempt: integer('attempt').notNull(),
    runId: text('run_id').notNull(),
    /** `<run>:<step key>`: one key per step execution, the same on every attempt, takeover and re-drive. */
    idempotencyKey: text('idempotency_key').notNull(),
    worker: text('worker').notNull(),
    /** How often a lease on this attempt expired and another worker took it over. */
    takeovers: integer('takeovers').notNull().default(0),
    status: text('status').notNull(),
    output: jsonb('output'),
    error: jsonb('error'),
    startedAt: ts('started_at').notNull(),
    endedAt: ts('ended_at'),
  },
  (t) => [uniqueIndex('engine_attempts_step_attempt_idx').on(t.stepId, t.attempt), index('engine_attempts_run_idx').on(t.runId)],
);

/** Signals delivered to runs (`alert.resolved`, attached alerts). Kept so a wait that starts later still sees them. */
export const engineEvents = pgTable(
  'engine_events',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    runId: text('run_id')
      .notNull()
      .references(() => engineRuns.id),
    type: text('type').notNull(),
    payload: jsonb('payload').notNull(),
    receivedAt: ts('received_at').notNull(),
  },
  (t) => [index('engine_events_run_type_idx').on(t.runId, t.type)],
);

export const engineDeadLetters = pgTable(
  'engine_dead_letters',
  {
    id: text('id').primaryKey(),
    runId: text('run_id').notNull(),
    stepId: text('step_id').notNull(),
    stepKey: text('step_key').notNull(),
    action: text('action'),
    attempts: integer('attempts').notNull(),
    /** `exhausted` (every retry failed) or `non_retryable`. */
    reason: text('reason').notNull(),
    error: jsonb('error').notNull(),
    /** What an operator needs to re-drive it: rendered parameters, correlation id, run state. */
    context: jsonb('context').notNull(),
    correlationId: text('correlation_id').notNull(),
    createdAt: ts('created_at').notNull(),
    retriedAt: ts('retried_at'),
    retriedBy: text('retried_by'),
  },
  (t) => [index('engine_dead_letters_open_idx').on(t.createdAt).where(sql`retried_at is null`)],
);
