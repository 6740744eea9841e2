import { durationMs, requiredApprovals, type Step } from '../playbooks/core/model.js';
import { evaluateCondition, ExpressionError, type ExpressionContext } from '../playbooks/core/expressions.js';
import { renderValue } from '../playbooks/core/templates.js';
import { indexPlaybook, firstOf } from './core/flow.js';
import { NonRetriableError, StepError, toStepFailure } from './core/step-error.js';
import { type Recheck, recordResult } from './complete.js';
import { runContext, runEvents, withCompensated, withEvents } from './context.js';
import { matchingEvent } from './events.js';
import type { RunRow, StepRow } from './model.js';
import type { HumanStepView } from './notifier.js';
import { notifySafely } from './notify.js';
import { runActionAttempt, runPrestartedAttempt } from './run-action.js';
import { SnapshotError } from './snapshots.js';
import type { Runtime } from './runtime.js';
import type { ClaimedStep } from './sql/claim.js';
import { readRunForStep, withDefinition } from './sql/load.js';
import { actionOf, type StepResult } from './sql/transition.js';
import { failUnpinned } from './sql/unpinned.js';

/**
 * Runs one claimed step by kind. Only action attempts call the outside world; the other
 * kinds are bookkeeping: a human or wait step becomes `waiting` with its timer, a decide step
 * evaluates its branches, a parallel step starts its branches.
 *
 * Failures of the step itself (an expression that does not evaluate, an unknown action) fail
 * it for good and dead-letter it. Failures to *record* (the database, the audit trail) are
 * not the step's: they propagate as RecordingError, the claim's lease expires, and another
 * worker takes the step over (complete.ts `recordResult`).
 */
export async function executeClaimed(rt: Runtime, claimed: ClaimedStep, shutdown: AbortSignal): Promise<void> {
  // Run, steps and events in one read (or as the commit that chained this step left them); the
  // definition from the cache (no snapshot per step).
  const read = claimed.snapshot ?? (await readRunForStep(rt.db.orm, claimed.runId));
  claimed.snapshot = undefined;
  // An attempt the chaining commit started (prestart.ts) already rendered its call on this run.
  const prestarted = claimed.started;
  claimed.started = undefined;
  const lean = read?.run;
  const rows = read?.rows ?? [];
  const step = rows.find((r) => r.id === claimed.id);
  if (!read || !lean || !step || step.status !== 'running' || step.leaseOwner !== claimed.token) return;
  let run: RunRow;
  try {
    // The verified definition by content hash and snapshot digest: no snapshot read per step.
    run = await withDefinition(rt.db.orm, lean);
  } catch (err) {
    if (!(err instanceof SnapshotError)) throw err;
    // A started attempt is closed with the step: none is left `running`.
    await failUnpinned(rt, claimed, err, prestarted && { number: prestarted.start.attempt, status: 'failed' });
    return;
  }
  const playbookStep = step.spec.role === 'step' ? indexPlaybook(run.definition).get(step.stepKey)?.step : undefined;
  const started = rt.clock.now();
  await rt.tracing.span(
    'quench.step',
    run.traceContext as never,
    { 'quench.run.id': run.id, 'quench.step.key': step.stepKey, 'quench.step.kind': step.kind },
    async () => {
      if (prestarted) return runPrestartedAttempt(rt, claimed, run, step, playbookStep, prestarted, shutdown);
      let context: ExpressionContext;
      try {
        context = await runContext(rt.db.orm, run, rows, rt.env, read.events);
        if (step.spec.role === 'compensation') context = withCompensated(context, rows, step.spec.of);
        // `when` is judged once, before the step first does anything: not after a takeover of
        // a step that started an attempt or started waiting (its decision was acted on).
        const fresh = step.attempts === 0 && armedAt(step) === undefined && (claimed.previousStatus === 'ready' || claimed.previousStatus === 'running');
        if (fresh && playbookStep?.when && !evaluateCondition(playbookStep.when, context)) {
          await recordResult(rt, claimed, { status: 'skipped', reason: `condition '${playbookStep.when}' is false` });
          return;
        }
        await dispatch(rt, claimed, run, step, rows, playbookStep, context, shutdown);
      } catch (err) {
        // Only the step's own errors (an expression that does not evaluate, a bad step) fail it;
        // anything else is infrastructure (the database, the audit trail): the claim's lease
        // expires and another worker takes the step over.
        if (!(err instanceof ExpressionError || err instanceof StepError)) throw err;
        // Expression errors and the like are permanent for this run: fail the step, do not loop.
        const failure = { ...toStepFailure(err), retryable: false };
        rt.logger.warn({ err, runId: run.id, step: step.stepKey }, 'step failed before or outside an attempt');
        await recordResult(rt, claimed, { status: 'failed', error: failure, deadLetter: { reason: 'non_retryable', context: { kind: step.kind } } });
      }
    },
  );
  rt.metrics.stepLatency.observe({ kind: step.kind, status: 'done' }, (rt.clock.now().getTime() - started.getTime()) / 1000);
}

/** When a wait or human step first recorded `waiting` (transition.ts), if it did. */
function armedAt(step: StepRow): string | undefined {
  return (step.spec as { armedAt?: string }).armedAt;
}

/**
 * A wait or human step's timer runs from when the step was first claimed (`started_at`, kept
 * across takeovers), never from the current claim: a takeover does not restart it.
 */
function dueAt(step: StepRow, duration: string | undefined, now: Date): Date | null {
  if (!duration) return null;
  return new Date((step.startedAt ?? now).getTime() + durationMs(duration));
}

async function dispatch(
  rt: Runtime,
  claimed: ClaimedStep,
  run: RunRow,
  step: StepRow,
  rows: StepRow[],
  playbookStep: Step | undefined,
  context: ExpressionContext,
  shutdown: AbortSignal,
): Promise<void> {
  const now = rt.clock.now();
  switch (step.kind) {
    case 'action': {
      const call = actionOf(run, step);
      if (!call) throw new NonRetriableError('no_action', `step '${step.stepKey}' has no action to run`);
      // Drills: injected failures, simulation and response delays happen inside the attempt (src/drills/simulate.ts).
      await runActionAttempt(rt, claimed, run, step, playbookStep, call, context, shutdown);
      return;
    }
    case 'decide': {
      if (playbookStep?.kind !== 'decide') throw new NonRetriableError('bad_step', `'${step.stepKey}' is not a decide step`);
      const branch = playbookStep.branches.find((b) => evaluateCondition(b.when, context));
      const target = branch?.next ?? playbookStep.default;
      await recordResult(rt, claimed, {
        status: 'succeeded',
        output: { branch: branch?.name ?? branch?.when ?? null, next: target ?? null },
        ...(target ? { target } : {}),
      });
      return;
    }
    case 'parallel': {
      if (playbookStep?.kind !== 'parallel') throw new NonRetriableError('bad_step', `'${step.stepKey}' is not a parallel step`);
      const creates = playbookStep.branches.flatMap((b, n) => {
        const next = firstOf(b.steps, { kind: 'branch', parallel: step.stepKey, branch: n });
        return 'start' in next ? [{ key: next.start, spec: { role: 'step' as const } }] : [];
      });
      await recordResult(rt, claimed, { status: 'waiting', wakeAt: null, output: { branchesDone: [] }, creates });
      return;
    }
    case 'wait': {
      if (playbookStep?.kind !== 'wait') throw new NonRetriableError('bad_step', `'${step.stepKey}' is not a wait step`);
      const until = playbookStep.until;
      if (until) {
        const timedOut = (): StepResult =>
          until.onTimeout === 'fail'
            ? {
                status: 'failed',
                error: { code: 'wait_timeout', message: `no '${until.event}' event before the timeout`, retryable: false },
                deadLetter: { reason: 'timeout', context: { event: until.event, timeout: playbookStep.timeout ?? null } },
              }
            : { status: 'succeeded', output: { timedOut: true } };
        const event = matchingEvent(context, until);
        if (event) return void (await recordResult(rt, claimed, { status: 'succeeded', output: { event } }));
        const due = dueAt(step, playbookStep.timeout, now);
        if (due && now >= due) return void (await recordResult(rt, claimed, timedOut()));
        // Re-check under the run lock: a signal that arrived since the events were read above
        // only completes steps already `waiting`, so this step must see it itself.
        const recheck: Recheck = async (tx) => {
          const events = await runEvents(tx, run.id);
          let fresh: unknown;
          try {
            fresh = matchingEvent(withEvents(context, events), until);
          } catch (err) {
            // A match that does not evaluate (say, over its expression budget) is the step's
            // problem, not the recording's: record `waiting`; the next signal or the timeout decides.
            rt.logger.warn({ err, runId: run.id, step: step.stepKey }, 'could not match the events that arrived meanwhile');
            return undefined;
          }
          return fresh ? { status: 'succeeded', output: { event: fresh } } : undefined;
        };
        await recordResult(rt, claimed, { status: 'waiting', wakeAt: due }, undefined, recheck);
        return;
      }
      const due = dueAt(step, playbookStep.duration, now) ?? now;
      if (now >= due) return void (await recordResult(rt, claimed, { status: 'succeeded', output: { waited: playbookStep.duration ?? null } }));
      await recordResult(rt, claimed, { status: 'waiting', wakeAt: due });
      return;
    }
    case 'human': {
      const timeout = dueAt(step, playbookStep?.timeout, now);
      if (timeout && now >= timeout) {
        const error = { code: 'human_timeout', message: `no decision on '${step.stepKey}' before its timeout`, retryable: false };
        const report = await recordResult(rt, claimed, {
          status: 'failed',
          error,
          deadLetter: { reason: 'timeout', context: { timeout: playbookStep?.timeout ?? null, role: step.spec.role } },
        });
        if (report)
          await notifySafely(rt, () =>
            rt.notifier().closed({ stepId: step.id, runId: run.id, correlationId: run.correlationId, outcome: 'timed_out' }),
          );
        return;
      }
      const report = await recordResult(rt, claimed, { status: 'waiting', wakeAt: timeout });
      // Notified once: a takeover of a step that already waited does not ask people again.
      if (report?.stepStatus === 'waiting' && armedAt(step) === undefined)
        await notifySafely(rt, () => rt.notifier().waiting(humanView(run, step, rows, playbookStep, context, timeout)));
      return;
    }
    default:
      throw new NonRetriableError('bad_step', `unknown step kind '${step.kind}'`);
  }
}

export function humanView(
  run: RunRow,
  step: StepRow,
  _rows: StepRow[],
  playbookStep: Step | undefined,
  context: ExpressionContext,
  timeoutAt: Date | null,
): HumanStepView {
  const base = {
    stepId: step.id,
    runId: run.id,
    stepKey: step.stepKey,
    correlationId: run.correlationId,
    playbook: run.playbook,
    timeoutAt,
    startedBy: run.startedBy,
    drill: run.drill !== null,
  };
  if (playbookStep?.kind === 'human' && step.spec.role === 'step') {
    const render = (text: string) => {
      try {
        return String(renderValue(text, context));
      } catch {
        return text;
      }
    };
    return {
      ...base,
      role: 'step',
      prompt: render(playbookStep.prompt),
      ...(playbookStep.description ? { description: render(playbookStep.description) } : {}),
      type: playbookStep.type,
      ...(playbookStep.options ? { options: playbookStep.options } : {}),
      ...(playbookStep.input ? { input: playbookStep.input } : {}),
      risk: playbookStep.risk,
      requiredApprovals: requiredApprovals(playbookStep),
      ...(playbookStep.assign ? { assign: playbookStep.assign } : {}),
      ...(playbookStep.sla ? { sla: playbookStep.sla } : {}),
    };
  }
  const role = step.spec.role === 'manual' ? 'manual' : 'escalation';
  const of = 'of' in step.spec ? step.spec.of : step.stepKey;
  const prompt =
    role === 'manual'
      ? `Compensation '${of}' failed for good: undo its effect by hand, then approve to record it`
      : `Step '${of}' failed for good: approve to continue the run anyway, reject to fail it`;
  return { ...base, role, prompt, type: 'approve', risk: 'high', requiredApprovals: 1 };
}
