import { and, eq } from 'drizzle-orm';
import { QuenchError } from '../../core/errors.js';
import { terminalRunStates } from '../core/states.js';
import type { Actor, StepRow } from '../model.js';
import type { Runtime } from '../runtime.js';
import { engineSteps } from '../schema.js';
import { lockRunUnverified } from './load.js';
import { applyEffects } from './transition.js';

/**
 * Cancels a run: every open step is cancelled and the run ends `cancelled`. No compensation
 * runs (cancel means "stop now"); an attempt in flight finishes in its worker, and its result
 * is discarded by the lease check. Returns the human steps that were waiting, to close their
 * notifications.
 */
export async function cancelRun(
  rt: Runtime,
  runId: string,
  actor: Actor,
  reason: string,
): Promise<{ waitingHumanSteps: StepRow[]; correlationId: string }> {
  return rt.db.orm.transaction(async (tx) => {
    // Cancelling reads nothing from the definition, so it works on a run whose snapshot is refused.
    const run = await lockRunUnverified(tx, runId);
    if (!run) throw new QuenchError('not_found', `no run with id ${runId}`);
    if (terminalRunStates.has(run.state)) throw new QuenchError('conflict', `run ${runId} is already ${run.state}`);
    const waitingHumanSteps = (await tx
      .select()
      .from(engineSteps)
      .where(and(eq(engineSteps.runId, runId), eq(engineSteps.kind, 'human'), eq(engineSteps.status, 'waiting')))) as StepRow[];
    await applyEffects(
      tx,
      { audit: rt.audit, catalog: rt.actions, now: rt.clock.now() },
      run,
      [{ type: 'cancelOpen' }, { type: 'run', state: 'cancelled', error: { code: 'cancelled', message: reason, by: actor.id } }],
      actor,
    );
    return { waitingHumanSteps, correlationId: run.correlationId };
  });
}
