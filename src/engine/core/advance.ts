import type { ActionCall } from '../../playbooks/core/model.js';
import { planCompensation } from './compensation.js';
import { firstOf, type Next, type StepIndex, successor } from './flow.js';
import type { RunState, StepStatus } from './states.js';
import { terminalStepStatuses } from './states.js';
import { derivedKey, type StepSpec } from './step-spec.js';

/**
 * How a run moves on when one of its steps reaches an outcome: pure, so every path (fallback,
 * escalation, parallel join, saga compensation) is tested without a database. The SQL layer
 * loads the run's rows, calls `advance`, and applies the effects in the same transaction that
 * recorded the outcome.
 */
export interface RowView {
  key: string;
  status: StepStatus;
  spec: StepSpec;
  output: unknown;
  completedSeq: number | null;
}

export interface RunView {
  state: RunState;
  index: StepIndex;
  rows: ReadonlyMap<string, RowView>;
  /** The undo call of a completed row (explicit `compensate`, or its action's default). */
  compensationOf(row: RowView): ActionCall | undefined;
}

export type Outcome =
  | { key: string; status: 'succeeded'; target?: string }
  | { key: string; status: 'skipped' }
  | { key: string; status: 'failed'; error: unknown };

export type Effect =
  | { type: 'create'; key: string; spec: StepSpec; status: 'ready' | 'pending' }
  | { type: 'ready'; key: string }
  | { type: 'finish'; key: string; status: 'succeeded'; output: unknown }
  | { type: 'branchDone'; key: string; output: ParallelOutput }
  /** Cancels the run's open rows; `keepRunning` leaves rows whose action is in flight to finish. */
  | { type: 'cancelOpen'; keepRunning?: boolean }
  | { type: 'run'; state: RunState; error?: unknown };

export interface ParallelOutput {
  branchesDone: number[];
}

export function advance(view: RunView, outcome: Outcome): Effect[] {
  const effects: Effect[] = [];
  // Effects are applied in order; branch bookkeeping written earlier in this call must be seen.
  const parallelDone = new Map<string, number[]>();

  const start = (key: string): void => {
    if (view.rows.has(key)) throw new Error(`step '${key}' would run twice; the playbook has a cycle`);
    effects.push({ type: 'create', key, spec: { role: 'step' }, status: 'ready' });
  };

  const follow = (next: Next): void => {
    if ('start' in next) {
      start(next.start);
      return;
    }
    const scope = next.end;
    if (scope.kind === 'top') {
      effects.push({ type: 'run', state: 'succeeded' });
      return;
    }
    if (scope.kind === 'fallback') {
      follow(successor(view.index, scope.owner));
      return;
    }
    const parallel = view.index.get(scope.parallel);
    if (parallel?.step.kind !== 'parallel') throw new Error(`'${scope.parallel}' is not a parallel step`);
    const previous =
      parallelDone.get(scope.parallel) ?? (view.rows.get(scope.parallel)?.output as ParallelOutput | null)?.branchesDone ?? [];
    const done = [...new Set([...previous, scope.branch])].sort((a, b) => a - b);
    parallelDone.set(scope.parallel, done);
    if (done.length < parallel.step.branches.length) {
      effects.push({ type: 'branchDone', key: scope.parallel, output: { branchesDone: done } });
      return;
    }
    effects.push({ type: 'finish', key: scope.parallel, status: 'succeeded', output: { branchesDone: done } });
    follow(successor(view.index, scope.parallel));
  };

  const inFlight = (except: string) =>
    [...view.rows.values()].filter(
      (r) => r.key !== except && r.status === 'running' && (r.spec.role === 'step' || r.spec.role === 'fallback'),
    );

  /**
   * Plans the undo of a failed run. Siblings still in flight (parallel branches) may complete
   * their action: planning now would miss it, so the run first waits for them (`compensating`
   * with no undo planned yet); the last of them to finish plans the undo (`drained`).
   */
  const failRun = (error: unknown): void => {
    if (inFlight(outcome.key).length > 0) {
      effects.push({ type: 'cancelOpen', keepRunning: true });
      effects.push({ type: 'run', state: 'compensating', error });
      return;
    }
    planUndo(error);
  };

  const planUndo = (error: unknown): void => {
    effects.push(...undoEffects(view, error, 'failed'));
  };

  /** The undos after `key`'s (pending, in plan order); the run's end when none is left. */
  const nextUndo = (): void => {
    const rows = [...view.rows.values()];
    const next = rows
      .filter((r) => r.spec.role === 'compensation' && r.status === 'pending')
      .sort((a, b) => (a.spec as { order: number }).order - (b.spec as { order: number }).order)[0];
    if (next) {
      if (view.state === 'compensation_failed') effects.push({ type: 'run', state: 'compensating' });
      effects.push({ type: 'ready', key: next.key });
      return;
    }
    // An undo that failed for good counts as resolved once a person approved its manual step.
    const unresolved = rows.some(
      (r) => r.spec.role === 'compensation' && r.status === 'failed' && view.rows.get(derivedKey.manual(r.key))?.status !== 'succeeded',
    );
    effects.push({ type: 'run', state: unresolved ? 'compensation_failed' : 'compensated' });
  };

  const onFailure = (stepId: string, error: unknown): void => {
    const step = view.index.get(stepId)?.step;
    const policy = step?.onFailure ?? 'compensate';
    if (policy === 'continue') {
      follow(successor(view.index, stepId));
      return;
    }
    if (policy === 'escalate') {
      effects.push({ type: 'create', key: derivedKey.escalation(stepId), spec: { role: 'escalation', of: stepId }, status: 'ready' });
      return;
    }
    failRun(error);
  };

  const row = view.rows.get(outcome.key);
  const spec: StepSpec = row?.spec ?? { role: 'step' };
  if (view.state === 'compensating' && spec.role !== 'compensation' && spec.role !== 'manual') {
    // A sibling that was in flight when the run failed: its outcome is recorded, the flow does
    // not go on. The last one to finish plans the undo (which now sees its success).
    const planned = [...view.rows.values()].some((r) => r.spec.role === 'compensation');
    if (!planned && inFlight(outcome.key).length === 0) planUndo(undefined);
    return effects;
  }
  switch (spec.role) {
    case 'step':
      if (outcome.status !== 'failed') {
        follow(successor(view.index, outcome.key, outcome.status === 'succeeded' ? outcome.target : undefined));
        break;
      }
      {
        const fallback = view.index.get(outcome.key)?.step.fallback;
        if (fallback?.steps) follow(firstOf(fallback.steps, { kind: 'fallback', owner: outcome.key }));
        else if (fallback?.action) {
          const call = { action: fallback.action, params: fallback.params ?? {} };
          effects.push({
            type: 'create',
            key: derivedKey.fallback(outcome.key),
            spec: { role: 'fallback', of: outcome.key, call },
            status: 'ready',
          });
        } else onFailure(outcome.key, outcome.error);
      }
      break;
    case 'fallback':
      if (outcome.status === 'failed') onFailure(spec.of, outcome.error);
      else follow(successor(view.index, spec.of));
      break;
    case 'escalation':
      // Approve: the human takes responsibility and the flow goes on; reject: the run fails.
      if (outcome.status === 'failed') failRun(outcome.error);
      else follow(successor(view.index, spec.of));
      break;
    case 'compensation':
      if (outcome.status === 'failed') {
        effects.push({ type: 'run', state: 'compensation_failed', error: outcome.error });
        effects.push({
          type: 'create',
          key: derivedKey.manual(outcome.key),
          spec: { role: 'manual', of: outcome.key, reason: 'compensation failed for good: undo by hand, then approve' },
          status: 'ready',
        });
        break;
      }
      nextUndo();
      break;
    case 'manual':
      // The person undid it by hand (approve) or says it cannot be (reject): either way the
      // older undos still run; the run ends compensated only if every failed undo was resolved.
      nextUndo();
      break;
  }
  return effects;
}

/**
 * The saga undo of a run that stops: its open rows cancelled (a row in flight is fenced), then
 * the undos of its completed state-changing steps, newest first; `nothing` is the run's end when
 * there is nothing to undo (`failed` for a failure, `cancelled` for a cancellation, sql/cancel.ts).
 */
export function undoEffects(view: RunView, error: unknown, nothing: 'failed' | 'cancelled'): Effect[] {
  const completed = [...view.rows.values()]
    .filter((r) => r.status === 'succeeded' && r.completedSeq !== null && (r.spec.role === 'step' || r.spec.role === 'fallback'))
    .map((r) => ({ key: r.key, completedSeq: r.completedSeq!, compensation: view.compensationOf(r) }));
  const plan = planCompensation(completed);
  const effects: Effect[] = [{ type: 'cancelOpen' }];
  const withError = error !== undefined ? { error } : {};
  if (plan.length === 0) return [...effects, { type: 'run', state: nothing, ...withError }];
  effects.push({ type: 'run', state: 'compensating', ...withError });
  plan.forEach((c, i) => effects.push({ type: 'create', key: c.key, spec: c.spec, status: i === 0 ? 'ready' : 'pending' }));
  return effects;
}

/** Whether a row still needs something to happen. */
export function isOpen(status: StepStatus): boolean {
  return !terminalStepStatuses.has(status);
}

/**
 * The run state implied by its open rows, for runs that are neither finished nor
 * compensating: `waiting` when every open row waits on a human, a timer or an event.
 */
export function activityState(statuses: Iterable<StepStatus>): 'running' | 'waiting' {
  let waiting = false;
  for (const s of statuses) {
    if (s === 'waiting') waiting = true;
    else if (isOpen(s)) return 'running';
  }
  return waiting ? 'waiting' : 'running';
}
