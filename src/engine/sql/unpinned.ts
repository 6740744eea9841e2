import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { AttemptRecord } from '../complete.js';
import { terminalRunStates } from '../core/states.js';
import type { StepFailure } from '../core/step-error.js';
import { engineActor } from '../model.js';
import type { Runtime } from '../runtime.js';
import { engineDeadLetters, engineSteps } from '../schema.js';
import type { ClaimedStep } from './claim.js';
import { finishAttemptQuery } from './attempt.js';
import { sendBound } from '../../db/statement.js';
import { lockClaimedStep, lockRunUnverified } from './load.js';
import { applyEffects, type TransitionReport } from './transition.js';

/**
 * Fails a claimed step, and its run, because the run's snapshot is refused (altered, or no
 * longer readable): nothing may be read from that definition, so no flow, fallback or undo is
 * planned from it. The step is dead-lettered (`snapshot_invalid`) with what it knows, open
 * steps are cancelled, and the run ends `failed` for a person to look at.
 */
export async function failUnpinned(
  rt: Runtime,
  claimed: ClaimedStep,
  cause: Error,
  attempt?: AttemptRecord,
): Promise<TransitionReport | undefined> {
  const now = rt.clock.now();
  const error: StepFailure = { code: 'snapshot_invalid', message: cause.message, retryable: false };
  const actor = engineActor(claimed.token.split('/')[0] ?? claimed.token);
  return rt.db.orm.transaction(async (tx) => {
    const run = await lockRunUnverified(tx, claimed.runId);
    if (!run) return undefined;
    const step = await lockClaimedStep(tx, claimed.id, claimed.token);
    if (!step) return undefined;
    if (attempt) await sendBound(tx, finishAttemptQuery({ stepId: step.id, attempt: attempt.number, status: attempt.status, now }));
    await tx
      .update(engineSteps)
      .set({ status: 'failed', leaseOwner: null, wakeAt: null, error, endedAt: now })
      .where(eq(engineSteps.id, step.id));
    await tx.insert(engineDeadLetters).values({
      id: randomUUID(),
      runId: run.id,
      stepId: step.id,
      stepKey: step.stepKey,
      action: null,
      attempts: step.attempts,
      reason: 'non_retryable',
      error,
      context: { playbook: run.playbook, playbookHash: run.playbookHash, runState: run.state, ...(attempt ? { attempt: attempt.number } : {}) },
      correlationId: run.correlationId,
      createdAt: now,
    });
    const entry = {
      actor,
      action: 'step.failed',
      subject: { type: 'step', id: step.id },
      data: { run: run.id, step: step.stepKey, attempt: step.attempts, error },
      correlationId: run.correlationId,
    };
    const effects = terminalRunStates.has(run.state)
      ? []
      : [{ type: 'cancelOpen' as const }, { type: 'run' as const, state: 'failed' as const, error }];
    return applyEffects(tx, { audit: rt.audit, catalog: rt.actions, now }, run, effects, actor, [entry]);
  });
}
