import { and, desc, eq, isNull } from 'drizzle-orm';
import { QuenchError } from '../../core/errors.js';
import type { Actor, StepRow } from '../model.js';
import type { Runtime } from '../runtime.js';
import { engineDeadLetters, engineRuns, engineSteps } from '../schema.js';
import { lockRun } from './load.js';

/**
 * The dead-letter table: steps that failed for good, with their last error and the context
 * needed to re-drive them. `retryDeadLetter` gives the step a fresh budget of attempts (its
 * attempt numbers keep counting, so idempotency keys never repeat) and reopens its run: a
 * failed run runs again from that step; a run whose compensation failed resumes compensating.
 * Runs that already compensated or were cancelled are not re-driven: their effects were undone.
 */
export type DeadLetter = typeof engineDeadLetters.$inferSelect;

export async function listDeadLetters(rt: Runtime, options: { all?: boolean; limit?: number } = {}): Promise<DeadLetter[]> {
  const q = rt.db.orm.select().from(engineDeadLetters);
  const filtered = options.all ? q : q.where(isNull(engineDeadLetters.retriedAt));
  return filtered.orderBy(desc(engineDeadLetters.createdAt)).limit(Math.min(options.limit ?? 100, 1000));
}

/** A step's spec for a re-drive: a fresh attempt budget, and its wait (if any) not yet started. */
function fresh(step: StepRow): StepRow['spec'] {
  const { armedAt: _armed, ...spec } = step.spec as StepRow['spec'] & { armedAt?: string };
  return { ...spec, attemptBase: step.attempts } as StepRow['spec'];
}

export async function retryDeadLetter(rt: Runtime, id: string, actor: Actor): Promise<{ runId: string; stepId: string }> {
  const [hint] = await rt.db.orm.select().from(engineDeadLetters).where(eq(engineDeadLetters.id, id));
  if (!hint) throw new QuenchError('not_found', `no dead-lettered step with id ${id}; see 'quench dlq list'`);
  return rt.db.orm.transaction(async (tx) => {
    const now = rt.clock.now();
    const run = await lockRun(tx, hint.runId);
    const [letter] = await tx.select().from(engineDeadLetters).where(eq(engineDeadLetters.id, id)).for('update');
    if (!run || !letter) throw new QuenchError('not_found', `dead letter ${id} or its run is gone`);
    if (letter.retriedAt)
      throw new QuenchError(
        'conflict',
        `dead letter ${id} was already retried by ${letter.retriedBy} at ${letter.retriedAt.toISOString()}`,
      );
    const [step] = (await tx.select().from(engineSteps).where(eq(engineSteps.id, letter.stepId)).for('update')) as StepRow[];
    if (step?.status !== 'failed') throw new QuenchError('conflict', `step ${letter.stepKey} is ${step?.status ?? 'gone'}, not failed`);
    const reopen =
      run.state === 'failed'
        ? 'running'
        : run.state === 'compensation_failed' && step.spec.role === 'compensation'
          ? 'compensating'
          : undefined;
    if (!reopen) {
      throw new QuenchError(
        'conflict',
        `run ${run.id} is ${run.state}: only steps of failed runs (or failed compensations) can be re-driven`,
      );
    }
    await tx
      .update(engineSteps)
      .set({ status: 'ready', wakeAt: now, error: null, endedAt: null, startedAt: null, spec: fresh(step), deadlineAt: null })
      .where(eq(engineSteps.id, step.id));
    if (reopen === 'running') {
      // The failure cancelled the run's other open work (parallel siblings, the join waiting
      // for them): resume it too, or a re-driven branch would finish into a join nobody
      // waits for and leave the run `running` for ever.
      const cancelled = (await tx
        .select()
        .from(engineSteps)
        .where(and(eq(engineSteps.runId, run.id), eq(engineSteps.status, 'cancelled')))) as StepRow[];
      for (const row of cancelled.filter((r) => r.spec.role === 'step')) {
        const parallel = row.kind === 'parallel';
        await tx
          .update(engineSteps)
          .set(
            parallel
              ? { status: 'waiting', wakeAt: null, endedAt: null }
              : { status: 'ready', wakeAt: now, endedAt: null, startedAt: null, leaseOwner: null, spec: fresh(row), deadlineAt: null },
          )
          .where(eq(engineSteps.id, row.id));
      }
    }
    if (reopen === 'compensating') {
      // The manual step raised for this compensation is moot once it is re-driven.
      await tx
        .update(engineSteps)
        .set({ status: 'cancelled', wakeAt: null, endedAt: now })
        .where(and(eq(engineSteps.runId, run.id), eq(engineSteps.stepKey, `${step.stepKey}/manual`), eq(engineSteps.status, 'waiting')));
    }
    await tx.update(engineRuns).set({ state: reopen, updatedAt: now, endedAt: null, error: null }).where(eq(engineRuns.id, run.id));
    await tx.update(engineDeadLetters).set({ retriedAt: now, retriedBy: actor.id }).where(eq(engineDeadLetters.id, id));
    await rt.audit.append(
      {
        actor,
        action: 'dead_letter.retried',
        subject: { type: 'step', id: step.id },
        data: { run: run.id, step: step.stepKey, deadLetter: id },
        correlationId: run.correlationId,
      },
      tx,
    );
    await rt.audit.append(
      {
        actor,
        action: `run.${reopen}`,
        subject: { type: 'run', id: run.id },
        data: { from: run.state, reason: 'dead letter retried' },
        correlationId: run.correlationId,
      },
      tx,
    );
    return { runId: run.id, stepId: step.id };
  });
}
