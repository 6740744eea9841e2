import { and, eq, sql } from 'drizzle-orm';
import type { Database } from '../../db/database.js';
import { engineAttempts, engineSteps } from '../schema.js';

/**
 * Starts (or, after a takeover, resumes) an action attempt.
 *
 * If the step's latest attempt is still `running`, its worker died mid-call: we do not know
 * whether the side effect happened, so the new worker repeats the *same* attempt with the
 * *same* idempotency key and the target deduplicates. Otherwise this is a new attempt with the
 * next number. Fenced on the lease: a worker that lost its lease starts nothing.
 */
export interface AttemptStart {
  attempt: number;
  idempotencyKey: string;
  takeover: boolean;
  deadlineAt: Date | null;
}

export const idempotencyKeyOf = (runId: string, stepKey: string, attempt: number) => `${runId}:${stepKey}:${attempt}`;

export async function beginAttempt(
  db: Database,
  args: { stepId: string; runId: string; stepKey: string; worker: string; now: Date; stepTimeoutMs: number | null; params: unknown },
): Promise<AttemptStart | undefined> {
  return db.orm.transaction(async (tx) => {
    const [step] = await tx
      .select({ attempts: engineSteps.attempts, deadlineAt: engineSteps.deadlineAt, spec: engineSteps.spec })
      .from(engineSteps)
      .where(and(eq(engineSteps.id, args.stepId), eq(engineSteps.status, 'running'), eq(engineSteps.leaseOwner, args.worker)))
      .for('update');
    if (!step) return undefined;
    const [latest] =
      step.attempts > 0
        ? await tx
            .select({ status: engineAttempts.status })
            .from(engineAttempts)
            .where(and(eq(engineAttempts.stepId, args.stepId), eq(engineAttempts.attempt, step.attempts)))
        : [];
    const deadlineAt = step.deadlineAt ?? (args.stepTimeoutMs !== null ? new Date(args.now.getTime() + args.stepTimeoutMs) : null);
    if (latest?.status === 'running') {
      await tx
        .update(engineAttempts)
        .set({ worker: args.worker, takeovers: sql`${engineAttempts.takeovers} + 1` })
        .where(and(eq(engineAttempts.stepId, args.stepId), eq(engineAttempts.attempt, step.attempts)));
      return {
        attempt: step.attempts,
        idempotencyKey: idempotencyKeyOf(args.runId, args.stepKey, step.attempts),
        takeover: true,
        deadlineAt,
      };
    }
    const attempt = step.attempts + 1;
    const idempotencyKey = idempotencyKeyOf(args.runId, args.stepKey, attempt);
    // The rendered parameters are kept on the step: compensation templates read `steps.<id>.params`.
    await tx
      .update(engineSteps)
      .set({ attempts: attempt, deadlineAt, spec: { ...(step.spec as object), params: args.params } })
      .where(eq(engineSteps.id, args.stepId));
    await tx.insert(engineAttempts).values({
      stepId: args.stepId,
      attempt,
      runId: args.runId,
      idempotencyKey,
      worker: args.worker,
      status: 'running',
      startedAt: args.now,
    });
    return { attempt, idempotencyKey, takeover: false, deadlineAt };
  });
}

/** Records how an attempt ended (inside the transaction that records the step's result). */
export async function finishAttempt(
  tx: Parameters<Parameters<Database['orm']['transaction']>[0]>[0],
  args: { stepId: string; attempt: number; status: 'succeeded' | 'failed' | 'timed_out'; output?: unknown; error?: unknown; now: Date },
): Promise<void> {
  await tx
    .update(engineAttempts)
    .set({ status: args.status, output: args.output ?? null, error: args.error ?? null, endedAt: args.now })
    .where(and(eq(engineAttempts.stepId, args.stepId), eq(engineAttempts.attempt, args.attempt)));
}

/**
 * Extends a lease while an attempt runs. Returns false when the lease is gone (the step was
 * cancelled, or the lease expired and another worker took over): the caller aborts the action.
 */
export async function heartbeat(db: Database, stepId: string, worker: string, leaseUntil: Date): Promise<boolean> {
  const rows = await db.orm
    .update(engineSteps)
    .set({ wakeAt: leaseUntil })
    .where(and(eq(engineSteps.id, stepId), eq(engineSteps.status, 'running'), eq(engineSteps.leaseOwner, worker)))
    .returning({ id: engineSteps.id });
  return rows.length > 0;
}
