import { and, asc, eq, type SQL, sql } from 'drizzle-orm';
import type { Executor } from '../../db/database.js';
import type { RunRow, StepRow } from '../model.js';
import { pinnedDefinition } from '../snapshots.js';
import { engineRuns, engineSteps } from '../schema.js';

/**
 * Locks a run row for the rest of the transaction. Every change to a run's steps takes this
 * lock first, so two workers finishing two parallel branches at once advance the run one
 * after the other (and always in the same lock order: run, then steps, so no deadlock).
 */
export async function lockRun(tx: Executor, runId: string): Promise<RunRow | undefined> {
  const run = await lockRunUnverified(tx, runId);
  // Pinning holds on every path that acts on the definition (a transition, a decision, a
  // signal), not only in the executor: an altered snapshot throws SnapshotError here.
  if (run) run.definition = pinnedDefinition(run);
  return run;
}

/**
 * The run row locked, its snapshot not verified: only for paths that must work on a run whose
 * snapshot is refused (failing it, cancelling it) and never read its definition.
 */
export async function lockRunUnverified(tx: Executor, runId: string): Promise<RunRow | undefined> {
  const [run] = await tx.select().from(engineRuns).where(eq(engineRuns.id, runId)).for('update');
  return run as RunRow | undefined;
}

export async function readRun(tx: Executor, runId: string): Promise<RunRow | undefined> {
  const [run] = await tx.select().from(engineRuns).where(eq(engineRuns.id, runId));
  return run as RunRow | undefined;
}

export async function stepsOf(tx: Executor, runId: string): Promise<StepRow[]> {
  return (await tx
    .select()
    .from(engineSteps)
    .where(eq(engineSteps.runId, runId))
    .orderBy(asc(engineSteps.createdAt), sql`${engineSteps.completedSeq} asc nulls last`, asc(engineSteps.stepKey))) as StepRow[];
}

export async function readStep(tx: Executor, stepId: string): Promise<StepRow | undefined> {
  const [step] = await tx.select().from(engineSteps).where(eq(engineSteps.id, stepId));
  return step as StepRow | undefined;
}

/**
 * The claim's fence: the step is still `running` under this claim's token. Every heartbeat,
 * attempt start and result of a claim is conditioned on it, so a claim that was taken over
 * changes nothing.
 */
export function heldByClaim(stepId: string, token: string): SQL {
  return and(eq(engineSteps.id, stepId), eq(engineSteps.status, 'running'), eq(engineSteps.leaseOwner, token))!;
}

/** Locks the claimed step for the rest of the transaction, if the claim still holds it. */
export async function lockClaimedStep(tx: Executor, stepId: string, token: string): Promise<StepRow | undefined> {
  const [step] = await tx.select().from(engineSteps).where(heldByClaim(stepId, token)).for('update');
  return step as StepRow | undefined;
}
