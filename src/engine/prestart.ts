import type { Pipeline } from '../db/pipeline.js';
import { workerOf } from './complete.js';
import { contextOf } from './context.js';
import { indexPlaybook } from './core/flow.js';
import { activeRunStates } from './core/states.js';
import type { RunRow, StepRow } from './model.js';
import { type PrestartedAttempt, resolveCall, stepTimeoutOf } from './run-action.js';
import { breakerOf, type Runtime } from './runtime.js';
import { type AttemptArgs, attemptBegunOf, type RawAttemptStart, startChainedAttemptQuery } from './sql/attempt.js';
import type { ClaimedStep } from './sql/claim.js';
import type { RunSnapshot } from './sql/load.js';
import { actionOf } from './sql/transition.js';

/**
 * Starts the attempt of the action step a recording transaction chains to its slot, in that
 * transaction: the attempt row and the step's attempt count, deadline and rendered parameters
 * commit with the result that readied the step, so the slot calls the action without a commit
 * of its own in between (one commit and one round trip fewer per step).
 *
 * The attempt start decides what the executor's own (sql/attempt.ts `beginAttemptQuery`) would
 * on the run as this commit leaves it, which is known here: the step was created in this
 * transaction under this claim (no attempt, so no takeover), and the run is active (checked
 * below, else nothing starts). So it is the start alone (`startChainedAttemptQuery`), fenced
 * on the new claim, and the attempt row commits before the action is called (invariant 5). Only the plain case is started here;
 * anything the executor decides at the call differently is left to it, by starting nothing:
 *   - a step with a `when` (judged by the executor before anything starts), a drill (its view
 *     of the action), a fallback or compensation (their own calls and contexts);
 *   - an action that changes state: its own attempt start, just before the call, is the last
 *     check that the run was not cancelled meanwhile (the undo of a cancelled run sees only
 *     effects that completed), so it keeps it;
 *   - a call that does not resolve (unknown action, parameters that do not render, validate or
 *     store, a target that cannot be named: the executor fails the step, with its dead letter);
 *     anything else that throws here starts nothing either;
 *   - a breaker that is not closed (the executor asks for a probe, or hands the step back
 *     without spending an attempt). A closed breaker admits without a change of state, so
 *     admitting here is what the executor would do a moment later; a breaker that opens
 *     between this commit and the call lets this one call through, as it lets through the
 *     calls already in flight when it opens.
 */
export function prestartAttempt(rt: Runtime, pl: Pipeline, run: RunRow, snapshot: RunSnapshot, next: ClaimedStep, now: Date): Prestart | undefined {
  try {
    return prestartOf(rt, pl, run, snapshot, next, now);
  } catch (err) {
    // Whatever the executor would make of it, it makes it there: never the claiming commit's problem.
    rt.logger.debug({ err, step: next.id }, 'not starting the chained attempt in the claiming commit');
    return undefined;
  }
}

function prestartOf(rt: Runtime, pl: Pipeline, run: RunRow, snapshot: RunSnapshot, next: ClaimedStep, now: Date): Prestart | undefined {
  if (next.kind !== 'action' || run.drill) return undefined;
  // A run that is not active (failing, cancelled, ended) starts nothing new: the executor's own start says so (draining).
  if (!activeRunStates.has(snapshot.run.state)) return undefined;
  const step = snapshot.rows.find((r) => r.id === next.id);
  if (!step || step.spec.role !== 'step' || step.attempts !== 0) return undefined;
  const playbookStep = indexPlaybook(run.definition).get(step.stepKey)?.step;
  if (playbookStep?.kind !== 'action' || playbookStep.when !== undefined) return undefined;
  const call = actionOf(run, step);
  if (!call) return undefined;
  // An action that changes state keeps the fence of its own attempt start right before the
  // call: a cancel that lands before it (with `onCancel: compensate`) stops the call, so no
  // effect happens that the undo would not see.
  if (rt.actions.get(call.action)?.changesState !== false) return undefined;
  const resolved = resolveCall(rt, run, step, playbookStep, call, contextOf(run, snapshot.rows, rt.env, snapshot.events));
  if (!resolved.ok || breakerOf(rt, resolved.target).state !== 'closed') return undefined;
  const args: AttemptArgs = {
    stepId: step.id,
    runId: run.id,
    stepKey: step.stepKey,
    worker: workerOf(next),
    token: next.token,
    now,
    stepTimeoutMs: stepTimeoutOf(rt, step),
    params: resolved.params,
  };
  return { args, begun: pl.add<RawAttemptStart>(startChainedAttemptQuery(args)), call, resolved, now };
}

/** A prestart in flight on the recording transaction's pipeline: all but the start, which its statement returns. */
export type Prestart = Omit<PrestartedAttempt, 'start'> & { args: AttemptArgs; begun: Promise<RawAttemptStart[]> };

/**
 * After the commit: the started attempt for the chained claim, with the step's row in the
 * handed snapshot brought up to what the start wrote. `undefined` when the start wrote nothing
 * (the executor then decides as usual; it finds what the statement found).
 */
export async function prestarted(p: Prestart, snapshot: RunSnapshot | undefined): Promise<PrestartedAttempt | undefined> {
  const start = attemptBegunOf(p.args, await p.begun);
  if (!start || start.draining || start.takeover) return undefined;
  if (snapshot)
    snapshot.rows = snapshot.rows.map((r) =>
      r.id === p.args.stepId
        ? { ...r, attempts: start.attempt, deadlineAt: start.deadlineAt, spec: { ...r.spec, params: p.args.params } as StepRow['spec'] }
        : r,
    );
  return { call: p.call, resolved: p.resolved, start, now: p.now };
}
