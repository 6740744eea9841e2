import { and, eq, type SQL, sql } from 'drizzle-orm';
import type { Database } from '../../db/database.js';
import { engineAttempts, engineRuns, engineSteps } from '../schema.js';
import { heldByClaim } from './load.js';

/**
 * Starts (or, after a takeover, resumes) an action attempt.
 *
 * If the step's latest attempt is still `running`, its worker died mid-call: we do not know
 * whether the side effect happened, so the new worker repeats the *same* attempt. Otherwise
 * this is a new attempt with the next number. Either way the idempotency key is the step's:
 * one key per step execution (`<run>:<step key>`), the same for every attempt, takeover and
 * dead-letter re-drive, because an attempt that timed out may still land and only a stable key
 * lets the target deduplicate it against the retry. The attempt number travels separately
 * (`Idempotency-Attempt`). Fenced on the claim token: a worker that lost its claim starts nothing.
 */
export interface AttemptStart {
  /** The run failed while this step was claimed and no attempt is in flight: start nothing. */
  draining?: false;
  attempt: number;
  idempotencyKey: string;
  takeover: boolean;
  deadlineAt: Date | null;
}

export const idempotencyKeyOf = (runId: string, stepKey: string) => `${runId}:${stepKey}`;

export async function beginAttempt(
  db: Database,
  args: {
    stepId: string;
    runId: string;
    stepKey: string;
    worker: string;
    token: string;
    now: Date;
    stepTimeoutMs: number | null;
    params: unknown;
  },
): Promise<AttemptStart | { draining: true } | undefined> {
  return db.orm.transaction(async (tx) => {
    const [run] = await tx.select({ state: engineRuns.state }).from(engineRuns).where(eq(engineRuns.id, args.runId));
    const [step] = await tx
      .select({ attempts: engineSteps.attempts, deadlineAt: engineSteps.deadlineAt, spec: engineSteps.spec })
      .from(engineSteps)
      .where(heldByClaim(args.stepId, args.token))
      .for('update');
    if (!step) return undefined;
    const [latest] =
      step.attempts > 0
        ? await tx
            .select({ status: engineAttempts.status, idempotencyKey: engineAttempts.idempotencyKey })
            .from(engineAttempts)
            .where(and(eq(engineAttempts.stepId, args.stepId), eq(engineAttempts.attempt, step.attempts)))
        : [];
    // A failing run waits for attempts in flight (they may have landed) but starts no new one.
    const role = (step.spec as { role: string }).role;
    const failing = run?.state !== 'running' && run?.state !== 'waiting' && run?.state !== 'pending';
    if (failing && role !== 'compensation' && role !== 'manual' && latest?.status !== 'running') return { draining: true as const };
    const deadlineAt = step.deadlineAt ?? (args.stepTimeoutMs !== null ? new Date(args.now.getTime() + args.stepTimeoutMs) : null);
    if (latest?.status === 'running') {
      await tx
        .update(engineAttempts)
        .set({ worker: args.worker, takeovers: sql`${engineAttempts.takeovers} + 1` })
        .where(and(eq(engineAttempts.stepId, args.stepId), eq(engineAttempts.attempt, step.attempts)));
      return {
        attempt: step.attempts,
        // The key the interrupted call carried (the same as the step's, except for attempts
        // started before keys became per step).
        idempotencyKey: latest.idempotencyKey,
        takeover: true,
        deadlineAt,
      };
    }
    const attempt = step.attempts + 1;
    const idempotencyKey = idempotencyKeyOf(args.runId, args.stepKey);
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
 * Extends a lease while an attempt runs, fenced on the claim token. Returns false when the
 * claim is gone (the step was cancelled, or the lease expired and another claim took over):
 * the caller aborts the action. The new expiry is measured on the lease clock (claim.ts).
 */
export async function heartbeat(db: Database, stepId: string, token: string, leaseMs: number, leaseNow: SQL): Promise<boolean> {
  const rows = await db.orm
    .update(engineSteps)
    .set({ wakeAt: sql`${leaseNow} + ${leaseMs} * interval '1 millisecond'` })
    .where(heldByClaim(stepId, token))
    .returning({ id: engineSteps.id });
  return rows.length > 0;
}
