import type { ActionCall, Step } from '../playbooks/core/model.js';
import type { ExpressionContext } from '../playbooks/core/expressions.js';
import { renderValue } from '../playbooks/core/templates.js';
import type { ActionDefinition } from '../actions/action.js';
import type { Tx } from '../db/database.js';
import type { Pipeline } from '../db/pipeline.js';
import { indexPlaybook } from './core/flow.js';
import { runContext } from './context.js';
import type { RunRow, StepRow } from './model.js';
import { breakerOf, type Runtime } from './runtime.js';
import { type AttemptArgs, type AttemptBegun, attemptBegunOf, beginAttemptQuery, type RawAttemptStart } from './sql/attempt.js';
import type { ClaimedStep } from './sql/claim.js';
import { type RunSnapshot, withDefinition } from './sql/load.js';
import { actionOf } from './sql/transition.js';

/**
 * The first attempt of a chained action step, started in the transaction that chained it.
 *
 * A slot that records a step's result claims the run's next ready step in the same transaction
 * (transition.ts `chain`). When that step is a plain action step, its attempt start (the attempt
 * row committed before the call, with the step's idempotency key) joins that transaction too: one
 * commit per step instead of two, and the slot waits for one group commit per step, not two.
 * The start is the same fenced statement as run-action.ts sends (`beginAttemptQuery`), with the
 * same arguments, so everything the attempt row promises holds: committed before the call, a
 * crash after the commit leaves a `running` attempt that a takeover repeats with the same key.
 *
 * Only where nothing decided before an attempt can differ: a step of the playbook itself (not a
 * fallback, compensation or manual step), without a `when` (judged by the executor), outside
 * drills (fault injection and simulation wrap the action there), whose action is registered and
 * whose parameters render and validate, and whose circuit breaker is closed (an open or half-open
 * breaker hands the step back without spending an attempt, or sends one probe: run-action.ts
 * decides that, as before). Otherwise the executor starts the attempt as it always did.
 */
export interface BegunAttempt {
  start: AttemptBegun;
  params: unknown;
  target: string;
}

export interface PreparedAttempt {
  action: ActionDefinition;
  params: unknown;
  target: string;
}

/**
 * The action, rendered parameters and breaker target of an action attempt. Throws what rendering
 * or validation throws (the caller turns it into the step's failure, or declines to chain).
 */
export function prepareAttempt(action: ActionDefinition, call: ActionCall, context: ExpressionContext): PreparedAttempt {
  const params = action.params.parse(renderValue(call.params, context));
  return { action, params, target: action.target?.(params) ?? call.action };
}

/** The attempt-start arguments of a claimed action step (run-action.ts and the chained start). */
export function attemptArgsOf(rt: Runtime, claimed: ClaimedStep, run: RunRow, step: StepRow, params: unknown, now: Date): AttemptArgs {
  return {
    stepId: claimed.id,
    runId: run.id,
    stepKey: step.stepKey,
    worker: claimed.token.slice(0, claimed.token.lastIndexOf('/')) || claimed.token,
    token: claimed.token,
    now,
    stepTimeoutMs: step.spec.role === 'step' ? rt.options.stepTimeoutMs : null,
    params,
  };
}

/**
 * Queues the chained step's attempt start on `pl` when it may start here (see above); resolves
 * to a function giving the started attempt once `pl` settled, or undefined.
 */
export async function startChainedAttempt(
  rt: Runtime,
  tx: Tx,
  pl: Pipeline,
  next: ClaimedStep,
  snapshot: RunSnapshot,
  now: Date,
): Promise<(() => Promise<BegunAttempt>) | undefined> {
  if (next.kind !== 'action' || snapshot.run.drill !== null) return undefined;
  const step = snapshot.rows.find((r) => r.id === next.id);
  if (!step || step.spec.role !== 'step' || step.status !== 'running' || step.leaseOwner !== next.token || step.attempts !== 0) return undefined;
  const run = await withDefinition(tx, snapshot.run);
  const playbookStep: Step | undefined = indexPlaybook(run.definition).get(step.stepKey)?.step;
  if (playbookStep?.kind !== 'action' || playbookStep.when) return undefined;
  const call = actionOf(run, step);
  const action = call && rt.actions.get(call.action);
  if (!call || !action) return undefined;
  let prepared: PreparedAttempt;
  try {
    prepared = prepareAttempt(action, call, await runContext(tx, run, snapshot.rows, rt.env, snapshot.events));
  } catch {
    return undefined; // the executor renders again and fails the step with the reason
  }
  if (breakerOf(rt, prepared.target).state !== 'closed') return undefined;
  const args = attemptArgsOf(rt, next, run, step, prepared.params, now);
  const rows = pl.add<RawAttemptStart>(beginAttemptQuery(args));
  return async () => ({ start: attemptBegunOf(args, await rows), params: prepared.params, target: prepared.target });
}
