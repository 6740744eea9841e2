import { and, eq } from 'drizzle-orm';
import type { ClaimedStep } from './sql/claim.js';
import { finishAttempt } from './sql/attempt.js';
import { lockRun, readRun } from './sql/load.js';
import { notifySafely } from './notify.js';
import { applyStepResult, type StepResult, type TransitionReport } from './sql/transition.js';
import { engineActor, type StepRow } from './model.js';
import type { Runtime } from './runtime.js';
import { engineSteps } from './schema.js';

/**
 * Records a claimed step's result: one short transaction that locks the run, checks the lease
 * is still ours (fencing), finishes the attempt row and applies the result. A worker that lost
 * its lease (cancelled run, or a takeover after it stalled) gets `undefined` and its result is
 * dropped: the step's side effect, if any, carried the idempotency key the new owner reuses.
 */
export async function completeClaimed(
  rt: Runtime,
  worker: string,
  claimed: ClaimedStep,
  result: StepResult,
  attempt?: { number: number; status: 'succeeded' | 'failed' | 'timed_out'; output?: unknown; error?: unknown },
): Promise<TransitionReport | undefined> {
  const now = rt.clock.now();
  const report = await rt.db.orm.transaction(async (tx) => {
    const run = await lockRun(tx, claimed.runId);
    if (!run) return undefined;
    const [step] = (await tx
      .select()
      .from(engineSteps)
      .where(and(eq(engineSteps.id, claimed.id), eq(engineSteps.status, 'running'), eq(engineSteps.leaseOwner, worker)))
      .for('update')) as StepRow[];
    if (!step) return undefined;
    if (attempt)
      await finishAttempt(tx, {
        stepId: step.id,
        attempt: attempt.number,
        status: attempt.status,
        output: attempt.output,
        error: attempt.error,
        now,
      });
    return applyStepResult(tx, { audit: rt.audit, catalog: rt.actions, now }, run, step, result, engineActor(worker));
  });
  rt.metrics.transitions.inc({ kind: claimed.kind, status: report ? result.status : 'fenced' });
  if (report) await closeCancelled(rt, claimed.runId, report.cancelledHumanSteps);
  return report;
}

/** Tells the notifier about human steps a run failure or cancellation closed. */
export async function closeCancelled(rt: Runtime, runId: string, stepIds: string[], by?: string): Promise<void> {
  if (stepIds.length === 0) return;
  const run = await readRun(rt.db.orm, runId);
  for (const stepId of stepIds) {
    await notifySafely(rt, () =>
      rt.notifier().closed({ stepId, runId, correlationId: run?.correlationId ?? '', outcome: 'cancelled', ...(by ? { by } : {}) }),
    );
  }
}
