import { randomUUID } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import type { AuditEntryInput } from '../../audit/core/entry.js';
import { type AuditTrail, appendOnPipeline } from '../../audit/trail.js';
import type { Executor } from '../../db/database.js';
import { type Pipeline, pipelineOn } from '../../db/pipeline.js';
import { fixed, jsonParam, timeParam } from '../../db/statement.js';
import type { ActionCall, ActionCatalog } from '../../playbooks/core/model.js';
import { activityState, advance, type Effect, isOpen, type Outcome, type RowView } from '../core/advance.js';
import { indexPlaybook } from '../core/flow.js';
import { assertRunTransition, assertStepTransition, type RunState, type StepStatus, terminalRunStates } from '../core/states.js';
import type { StepFailure } from '../core/step-error.js';
import { rowKindOf, type StepSpec } from '../core/step-spec.js';
import type { Actor, RunRow, StepRow } from '../model.js';
import type { EngineOptions } from '../runtime.js';
import { engineDeadLetters, engineSteps } from '../schema.js';
import type { ClaimedStep } from './claim.js';
import { stepsOf } from './load.js';

/**
 * Applies one step's result inside the caller's transaction (which holds the run lock):
 * the step row, the run's advance (core/advance.ts), the run state and the audit entries all commit
 * together or not at all. Waking workers is the caller's, after commit (`rt.wake`, wake.ts). This is the only place step and
 * run states change after creation.
 */
export type StepResult =
  | { status: 'succeeded'; output: unknown; target?: string }
  | { status: 'skipped'; reason: string }
  | { status: 'failed'; error: StepFailure; deadLetter?: { reason: string; context: Record<string, unknown> } }
  | { status: 'retry_wait'; error: StepFailure; wakeAt: Date }
  | { status: 'waiting'; wakeAt: Date | null; output?: unknown; creates?: Array<{ key: string; spec: StepSpec }> }
  /** Not run: its run failed while it was claimed, before it started anything. */
  | { status: 'cancelled'; reason: string };

export interface TransitionDeps {
  /**
   * How the attempt that produced this result ended: written by the step's own update (one
   * statement for both rows), JSON already encoded.
   */
  finishedAttempt?: { number: number; status: string; output: string | null; error: string | null };
  /** Where the transition's audit entries go (a recording batch gathers its results' into one append: complete.ts). */
  audit: Pick<AuditTrail, 'appendMany'>;
  catalog: ActionCatalog;
  now: Date;
  /**
   * A worker slot that takes the first ready step this transition creates: it is inserted
   * already claimed (`running` under a new claim token, its lease on the lease clock) instead of
   * `ready`, and described in `claimed`. Nobody else can have seen the row: it is created in
   * this transaction, under the run lock.
   */
  chain?: {
    worker: string;
    leaseMs: number;
    /** The lease clock's now: null for the database's `now()`, else the injected time (claim.ts `leaseTime`). */
    leaseAt: Date | null;
    now: Date;
    claimed?: ClaimedStep;
  };
  /**
   * The run's step rows as read under the run lock before this transition (complete.ts reads
   * them with the lock): the transition then reads none itself.
   */
  rows?: StepRow[];
  /**
   * The caller's pipeline: the transition's writes are sent on it and the caller settles it
   * before commit (with more statements of its own in the same round trip). Without one, the
   * transition settles its own before returning.
   */
  pipeline?: Pipeline;
}

/** What happened, for metrics and notifications after commit. */
export interface TransitionReport {
  runState: RunState;
  runChanged: boolean;
  created: StepRow[];
  readied: number;
  /** Human steps that were waiting and got cancelled (their notifications must close). */
  cancelledHumanSteps: string[];
  /** The status the step was recorded with (a failing run may turn a wait into `cancelled`). */
  stepStatus?: StepStatus;
  /**
   * The run as this transition leaves it, when every row it wrote is known here: the rows read
   * under the run lock (`TransitionDeps.rows`) with the step's own update, one created row, and
   * the run's new state. complete.ts hands it to the step the transition chained instead of
   * reading the run again. Absent whenever the transition wrote rows it did not read (ready,
   * finish, branchDone, cancelOpen effects) or their order could depend on the database's
   * collation (see `rowsAfter`).
   */
  after?: { rows: StepRow[]; run: Pick<RunRow, 'state' | 'updatedAt' | 'endedAt' | 'error'> };
}

/**
 * A worker's slot that a transaction at `now` may claim the first ready step it creates for
 * (`TransitionDeps.chain`), its lease on the engine's lease clock. Made fresh for each try of a
 * transaction: a rolled-back try's claim never happened.
 */
export function chainSlot(options: Pick<EngineOptions, 'leaseMs' | 'leaseClock'>, worker: string, now: Date): NonNullable<TransitionDeps['chain']> {
  return { worker, leaseMs: options.leaseMs, leaseAt: options.leaseClock === 'database' ? null : now, now };
}

export async function applyStepResult(
  tx: Executor,
  deps: TransitionDeps,
  run: RunRow,
  step: StepRow,
  given: StepResult,
  actor: Actor,
): Promise<TransitionReport> {
  const now = deps.now;
  const pl = deps.pipeline ?? pipelineOn(tx);
  const result = inFailingRun(run, step, given);
  assertStepTransition(step.id, step.status, result.status);
  const terminal = result.status === 'succeeded' || result.status === 'failed' || result.status === 'skipped' || result.status === 'cancelled';
  // A wait or human step remembers that it started waiting: a takeover neither re-arms its
  // timer, nor notifies again, nor judges its `when` again (executor.ts).
  const spec = result.status === 'waiting' && (step.spec as { armedAt?: string }).armedAt === undefined ? { ...step.spec, armedAt: now.toISOString() } : undefined;
  const recorded = {
    status: result.status,
    leaseOwner: null,
    wakeAt: result.status === 'retry_wait' || result.status === 'waiting' ? result.wakeAt : null,
    output:
      result.status === 'succeeded' || (result.status === 'waiting' && result.output !== undefined)
        ? (result.output ?? null)
        : step.output,
    error:
      result.status === 'failed' || result.status === 'retry_wait'
        ? result.error
        : result.status === 'skipped' || result.status === 'cancelled'
          ? { reason: result.reason }
          : step.error,
    endedAt: terminal ? now : null,
    ...(spec ? { spec } : {}),
  };
  const stepUpdate = {
    id: step.id,
    status: recorded.status,
    wakeAt: timeParam(recorded.wakeAt),
    output: jsonParam(recorded.output),
    error: jsonParam(recorded.error),
    endedAt: timeParam(recorded.endedAt),
    spec: spec ? JSON.stringify(spec) : null,
    completes: result.status === 'succeeded',
    runId: run.id,
  };
  const finished = deps.finishedAttempt;
  void pl.add(
    finished
      ? recordStepAndAttemptStatement({
          ...stepUpdate,
          attempt: finished.number,
          attemptStatus: finished.status,
          attemptOutput: finished.output,
          attemptError: finished.error,
          attemptEndedAt: now.toISOString(),
        })
      : recordStepStatement(stepUpdate),
  );
  const stepEntry: AuditEntryInput = {
    actor,
    action: `step.${result.status}`,
    subject: { type: 'step', id: step.id },
    data: {
      run: run.id,
      step: step.stepKey,
      attempt: step.attempts,
      ...(result.status === 'failed' || result.status === 'retry_wait' ? { error: result.error } : {}),
      // A drill's simulated step: what it would have done, with its rendered parameters (docs/drills.md).
      ...(result.status === 'succeeded' && (result.output as { simulated?: unknown } | null)?.simulated === true ? { simulated: result.output } : {}),
    },
    correlationId: run.correlationId,
  };
  if (result.status === 'failed' && result.deadLetter) {
    void pl.add(tx.insert(engineDeadLetters).values({
      id: randomUUID(),
      runId: run.id,
      stepId: step.id,
      stepKey: step.stepKey,
      action: actionOf(run, step)?.action ?? null,
      attempts: step.attempts,
      reason: result.deadLetter.reason,
      error: result.error,
      context: result.deadLetter.context,
      correlationId: run.correlationId,
      createdAt: now,
    }));
  }
  const effects: Effect[] = [];
  if (result.status === 'waiting' && result.creates) {
    for (const c of result.creates) effects.push({ type: 'create', key: c.key, spec: c.spec, status: 'ready' });
  }
  // A manual step decided in a run whose compensation failed resumes the older undos.
  const resumesUndo = run.state === 'compensation_failed' && step.spec.role === 'manual';
  // The statuses of the run's rows as this transaction leaves them, when they were read anyway
  // (under the run lock): the run state is then settled without reading them again.
  let known: Map<string, StepStatus> | undefined;
  let recordedRows: StepRow[] | undefined;
  if (terminal && (!terminalRunStates.has(run.state) || resumesUndo)) {
    const rows = deps.rows ? (recordedRows = rowsAsRecorded(deps.rows, step, recorded, result.status === 'succeeded')) : await settledThen(pl, () => stepsOf(tx, run.id));
    known = new Map(rows.map((r) => [r.stepKey, r.id === step.id ? result.status : r.status]));
    const outcome: Outcome =
      result.status === 'succeeded'
        ? { key: step.stepKey, status: 'succeeded', ...(result.target !== undefined ? { target: result.target } : {}) }
        : result.status === 'skipped' || result.status === 'cancelled'
          ? { key: step.stepKey, status: 'skipped' }
          : { key: step.stepKey, status: 'failed', error: result.error };
    effects.push(...advance(runView(run, rows, deps.catalog), outcome));
  }
  const before = { state: run.state, updatedAt: run.updatedAt, endedAt: run.endedAt, error: run.error };
  const report = await applyEffects(tx, { ...deps, pipeline: pl }, run, effects, actor, [stepEntry], known, !deps.pipeline);
  const rows = recordedRows && effects.every((e) => e.type === 'create' || e.type === 'run') ? rowsAfter(recordedRows, report.created) : undefined;
  const runAfter = report.runChanged
    ? { state: report.runState, updatedAt: now, endedAt: terminalRunStates.has(report.runState) ? now : before.endedAt, error: report.runError ?? before.error }
    : before;
  const { runError: _runError, ...rest } = report;
  return { ...rest, stepStatus: result.status, ...(rows ? { after: { rows, run: runAfter } } : {}) };
}

/**
 * The run's rows in `stepsOf` order (created_at, completed_seq nulls last, step_key) after this
 * transition, from the rows as recorded and one created row, or undefined when that order is not
 * certain without the database. The rows read under the lock came in that order; a stable sort
 * on the first two keys keeps the database's step_key order among ties (its collation, not
 * JavaScript's) and moves a step that just got its completion number where the database puts it.
 * The created row goes last only if it is strictly the newest.
 */
function rowsAfter(recorded: StepRow[], created: StepRow[]): StepRow[] | undefined {
  if (created.length !== 1) return undefined;
  const at = (r: StepRow) => r.createdAt.getTime();
  const seq = (r: StepRow) => r.completedSeq ?? Number.MAX_SAFE_INTEGER;
  const rows = [...recorded].sort((a, b) => at(a) - at(b) || seq(a) - seq(b));
  const last = rows.at(-1);
  if (last && at(last) >= at(created[0]!)) return undefined;
  return [...rows, created[0]!];
}

const p = (name: string) => sql.placeholder(name);

/**
 * The hot writes of a transition, built once (db/statement.ts). The recorded step: what
 * `recorded` says, `spec` only when it changes (armedAt), and for a success the next completion
 * number (completion order drives compensation order; the run lock makes max()+1 race-free).
 */
interface RecordStep {
  id: string;
  status: string;
  wakeAt: string | null;
  output: string | null;
  error: string | null;
  endedAt: string | null;
  spec: string | null;
  completes: boolean;
  runId: string;
}
const recordStepUpdate = sql`update engine_steps set status = ${p('status')}, lease_owner = null, wake_at = ${p('wakeAt')}::timestamptz,
    output = ${p('output')}::jsonb, error = ${p('error')}::jsonb, ended_at = ${p('endedAt')}::timestamptz,
    spec = coalesce(${p('spec')}::jsonb, spec),
    completed_seq = case when ${p('completes')}::boolean
      then (select coalesce(max(completed_seq), 0) + 1 from engine_steps where run_id = ${p('runId')}) else completed_seq end
  where id = ${p('id')}`;
const recordStepStatement = fixed<RecordStep>(recordStepUpdate);

/** The same update, and the attempt that produced the result finished (what sql/attempt.ts `finishAttemptQuery` writes). */
const recordStepAndAttemptStatement = fixed<
  RecordStep & { attempt: number; attemptStatus: string; attemptOutput: string | null; attemptError: string | null; attemptEndedAt: string }
>(sql`with finished as (
    update engine_attempts set status = ${p('attemptStatus')}, output = ${p('attemptOutput')}::jsonb, error = ${p('attemptError')}::jsonb,
      ended_at = ${p('attemptEndedAt')}::timestamptz
    where step_id = ${p('id')} and attempt = ${p('attempt')}::int
  )
  ${recordStepUpdate}`);

interface NewStep {
  id: string;
  runId: string;
  stepKey: string;
  kind: string;
  status: string;
  spec: string;
  createdAt: string;
}

const insertStepStatement = fixed<NewStep & { wakeAt: string | null }>(sql`insert into engine_steps
    (id, run_id, step_key, kind, status, wake_at, spec, created_at)
  values (${p('id')}, ${p('runId')}, ${p('stepKey')}, ${p('kind')}, ${p('status')}, ${p('wakeAt')}::timestamptz, ${p('spec')}::jsonb, ${p('createdAt')}::timestamptz)`);

/** A step created already claimed by a chain slot: its lease on the lease clock (null: the database's). */
const insertClaimedStepStatement = fixed<NewStep & { leaseOwner: string | null; leaseAt: string | null; leaseMs: number; startedAt: string }>(sql`insert into engine_steps
    (id, run_id, step_key, kind, status, wake_at, spec, created_at, lease_owner, started_at)
  values (${p('id')}, ${p('runId')}, ${p('stepKey')}, ${p('kind')}, ${p('status')},
    coalesce(${p('leaseAt')}::timestamptz, now()) + ${p('leaseMs')}::float8 * interval '1 millisecond',
    ${p('spec')}::jsonb, ${p('createdAt')}::timestamptz, ${p('leaseOwner')}, ${p('startedAt')}::timestamptz)`);

const runStateStatement = fixed<{ id: string; state: string; updatedAt: string; endedAt: string | null; setsError: boolean; error: string | null }>(
  sql`update engine_runs set state = ${p('state')}, updated_at = ${p('updatedAt')}::timestamptz,
    ended_at = coalesce(${p('endedAt')}::timestamptz, ended_at),
    error = case when ${p('setsError')}::boolean then ${p('error')}::jsonb else error end
  where id = ${p('id')}`,
);

/** Reads after the pipeline's writes ran (on PGlite a read would not queue behind them). */
async function settledThen<T>(pl: Pipeline, read: () => Promise<T>): Promise<T> {
  await pl.settled();
  return read();
}

/**
 * The run's rows as this transition's step update leaves them, from the rows read under the
 * run lock before it: the step gets what the update writes, and a succeeded step the next
 * completion number (the update computes the same max + 1; the run lock keeps it exact).
 */
function rowsAsRecorded(rows: StepRow[], step: StepRow, recorded: Partial<StepRow>, completes: boolean): StepRow[] {
  const seq = completes ? rows.reduce((max, r) => Math.max(max, r.completedSeq ?? 0), 0) + 1 : undefined;
  return rows.map((r) => (r.id === step.id ? { ...r, ...recorded, ...(seq !== undefined ? { completedSeq: seq } : {}) } as StepRow : r));
}

/**
 * A run that failed and waits for its in-flight siblings before planning the undo
 * (`compensating`, core/advance.ts) starts nothing new: a sibling's result is recorded, but a
 * retry becomes a failure and a wait (human, timer, parallel join) is cancelled.
 */
function inFailingRun(run: RunRow, step: StepRow, result: StepResult): StepResult {
  const draining = run.state === 'compensating' && (step.spec.role === 'step' || step.spec.role === 'fallback' || step.spec.role === 'escalation');
  if (!draining) return result;
  if (result.status === 'retry_wait') return { status: 'failed', error: result.error };
  if (result.status === 'waiting') return { status: 'cancelled', reason: 'the run failed before this step started waiting' };
  return result;
}

/** Applies effects, then settles the run state from its open rows. */
export async function applyEffects(
  tx: Executor,
  deps: TransitionDeps,
  run: RunRow,
  effects: Effect[],
  actor: Actor,
  entries: AuditEntryInput[] = [],
  known?: Map<string, StepStatus>,
  /** Settle the pipeline before returning (the caller passed none of its own). */
  settle = !deps.pipeline,
): Promise<TransitionReport & { runError?: unknown }> {
  const now = deps.now;
  const pl = deps.pipeline ?? pipelineOn(tx);
  const created: StepRow[] = [];
  const cancelledHumanSteps: string[] = [];
  let readied = 0;
  let nextState: RunState | undefined;
  let error: unknown;
  let index: ReturnType<typeof indexPlaybook> | undefined;
  for (const effect of effects) {
    switch (effect.type) {
      case 'create': {
        const chain = effect.status === 'ready' && deps.chain && !deps.chain.claimed ? deps.chain : undefined;
        const row = {
          id: randomUUID(),
          runId: run.id,
          stepKey: effect.key,
          kind: rowKindOf(effect.spec, (index ??= indexPlaybook(run.definition)).get(effect.key)?.step.kind),
          status: chain ? ('running' as const) : effect.status,
          wakeAt: effect.status === 'ready' ? now : null,
          spec: effect.spec,
          createdAt: now,
        };
        const token = chain ? `${chain.worker}/${randomUUID()}` : null;
        const values = {
          id: row.id,
          runId: row.runId,
          stepKey: row.stepKey,
          kind: row.kind,
          status: row.status,
          spec: JSON.stringify(row.spec),
          createdAt: now.toISOString(),
        };
        void pl.add(
          chain
            ? // The lease, as a claim grants it (claim.ts): on the lease clock.
              insertClaimedStepStatement({
                ...values,
                leaseOwner: token,
                leaseAt: timeParam(chain.leaseAt),
                leaseMs: chain.leaseMs,
                startedAt: chain.now.toISOString(),
              })
            : insertStepStatement({ ...values, wakeAt: timeParam(row.wakeAt) }),
        );
        if (chain) chain.claimed = { id: row.id, runId: run.id, stepKey: row.stepKey, kind: row.kind, previousStatus: 'ready', attempts: 0, token: token! };
        created.push({
          ...row,
          // A chained row's lease expiry, as near as this process knows it (on the database's
          // clock it is the database's now): nothing reads it before the row is read again.
          ...(chain ? { wakeAt: new Date((chain.leaseAt ?? now).getTime() + chain.leaseMs) } : {}),
          leaseOwner: token,
          attempts: 0,
          completedSeq: null,
          output: null,
          error: null,
          decision: null,
          startedAt: chain ? chain.now : null,
          deadlineAt: null,
          endedAt: null,
        });
        known?.set(row.stepKey, row.status);
        if (effect.status === 'ready' && !chain) readied++;
        break;
      }
      case 'ready':
        void pl.add(
          tx
            .update(engineSteps)
            .set({ status: 'ready', wakeAt: now })
            .where(and(eq(engineSteps.runId, run.id), eq(engineSteps.stepKey, effect.key), eq(engineSteps.status, 'pending'))),
        );
        if (known?.get(effect.key) === 'pending') known.set(effect.key, 'ready');
        readied++;
        break;
      case 'finish':
        void pl.add(
          tx
          .update(engineSteps)
          .set({
            status: 'succeeded',
            output: effect.output,
            endedAt: now,
            wakeAt: null,
            completedSeq: sql`(select coalesce(max(completed_seq), 0) + 1 from engine_steps where run_id = ${run.id})`,
          })
          .where(and(eq(engineSteps.runId, run.id), eq(engineSteps.stepKey, effect.key))),
        );
        if (known?.has(effect.key)) known.set(effect.key, 'succeeded');
        break;
      case 'branchDone':
        void pl.add(
          tx
            .update(engineSteps)
            .set({ output: effect.output })
            .where(and(eq(engineSteps.runId, run.id), eq(engineSteps.stepKey, effect.key))),
        );
        break;
      case 'cancelOpen': {
        // A late worker's result for one of these is discarded: its fencing check wants `running`.
        // `keepRunning`: rows whose action is in flight finish and report (core/advance.ts failRun).
        const open: StepStatus[] = effect.keepRunning
          ? ['pending', 'ready', 'retry_wait', 'waiting']
          : ['pending', 'ready', 'running', 'retry_wait', 'waiting'];
        const cancelled = pl.add<{ id: string; kind: string; step_key: string }>(sql`
          update engine_steps set status = 'cancelled', wake_at = null, lease_owner = null, ended_at = ${now.toISOString()}::timestamptz
          where run_id = ${run.id} and status in (${sql.join(open.map((s) => sql`${s}`), sql`, `)})
          returning id, kind, step_key`);
        // Their attempts in flight will never report (fenced): close them, none stays `running`.
        // A later statement, not a CTE of the one above: an attempt start that held a step's lock
        // commits its attempt row while the update waits, and only a statement that starts after
        // the update sees that row.
        void pl.add(sql`
          update engine_attempts a set status = 'cancelled', ended_at = ${now.toISOString()}::timestamptz
          from engine_steps s
          where s.run_id = ${run.id} and s.status = 'cancelled' and a.step_id = s.id and a.status = 'running'`);
        for (const c of await cancelled) known?.set(c.step_key, 'cancelled');
        cancelledHumanSteps.push(...(await cancelled).filter((c) => c.kind === 'human').map((c) => c.id));
        break;
      }
      case 'run':
        nextState = effect.state;
        error = effect.error;
        break;
    }
  }
  let state = nextState ?? run.state;
  if (nextState === undefined && !terminalRunStates.has(run.state) && run.state !== 'compensating') {
    const statuses = known
      ? [...known.values()]
      : (await settledThen(pl, () => tx.select({ status: engineSteps.status }).from(engineSteps).where(eq(engineSteps.runId, run.id)))).map(
          (r) => r.status as StepStatus,
        );
    state = activityState(statuses);
  }
  const runChanged = state !== run.state;
  if (runChanged) {
    assertRunTransition(run.id, run.state, state);
    void pl.add(
      runStateStatement({
        id: run.id,
        state,
        updatedAt: now.toISOString(),
        endedAt: terminalRunStates.has(state) ? now.toISOString() : null,
        setsError: error !== undefined,
        error: jsonParam(error),
      }),
    );
    entries.push({
      actor,
      action: `run.${state}`,
      subject: { type: 'run', id: run.id },
      data: { from: run.state, playbook: run.playbook, ...(error !== undefined ? { error } : {}) },
      correlationId: run.correlationId,
    });
    run.state = state;
  }
  for (const c of created) {
    entries.push({
      actor,
      action: 'step.created',
      subject: { type: 'step', id: c.id },
      data: { run: run.id, step: c.stepKey, kind: c.kind, role: c.spec.role },
      correlationId: run.correlationId,
    });
  }
  // The entries in one insert, in order: per run, audit order is transition order.
  appendOnPipeline(deps.audit, pl, entries, tx);
  if (settle) await pl.settled();
  return { runState: state, runChanged, created, readied, cancelledHumanSteps, ...(runChanged && error !== undefined ? { runError: error } : {}) };
}

export function runView(run: RunRow, rows: StepRow[], catalog: ActionCatalog) {
  const index = indexPlaybook(run.definition);
  const views = new Map<string, RowView>(
    rows.map((r) => [r.stepKey, { key: r.stepKey, status: r.status, spec: r.spec, output: r.output, completedSeq: r.completedSeq }]),
  );
  return {
    state: run.state,
    index,
    rows: views,
    compensationOf: (row: RowView): ActionCall | undefined => {
      const call = row.spec.role === 'fallback' ? row.spec.call : undefined;
      const step = index.get(row.key)?.step;
      if (step?.compensate) return step.compensate;
      const action = call?.action ?? (step?.kind === 'action' ? step.action : undefined);
      const spec = action ? catalog.get(action) : undefined;
      return spec?.changesState && spec.compensation
        ? { action: spec.compensation.action, params: spec.compensation.params ?? {} }
        : undefined;
    },
  };
}

/** The action call a row executes, if any. */
export function actionOf(run: RunRow, step: StepRow): ActionCall | undefined {
  if (step.spec.role === 'fallback' || step.spec.role === 'compensation') return step.spec.call;
  const s = indexPlaybook(run.definition).get(step.stepKey)?.step;
  return s?.kind === 'action' ? { action: s.action, params: s.params } : undefined;
}

export { isOpen };
