import { and, eq } from 'drizzle-orm';
import { QuenchError } from '../../core/errors.js';
import { undoEffects } from '../core/advance.js';
import { type RunState, terminalRunStates } from '../core/states.js';
import type { Actor, RunRow, StepRow } from '../model.js';
import type { Runtime } from '../runtime.js';
import { engineSteps } from '../schema.js';
import { SnapshotError } from '../snapshots.js';
import { lockRun, lockRunUnverified, stepsOf } from './load.js';
import { applyEffects, runView } from './transition.js';

/**
 * Cancels a run, as its playbook's `onCancel` says (docs/playbooks.md):
 * - `stop` (the default): every open step is cancelled and the run ends `cancelled`; no
 *   compensation runs, and a run that is compensating stops its undo.
 * - `compensate`: every open step is cancelled, then the completed state-changing steps are
 *   undone exactly as after a failure (core/advance.ts `undoEffects`): the run goes
 *   `compensating` and ends `compensated` or `compensation_failed` (`cancelled` when there is
 *   nothing to undo). A run already compensating is refused (409): its undo goes on.
 * Either way an attempt in flight finishes in its worker and its result is discarded (its claim
 * is revoked: the fencing check wants `running` under its token), and the run's error names
 * who cancelled and why. Returns the human steps that were waiting, to close their notifications.
 */
export async function cancelRun(
  rt: Runtime,
  runId: string,
  actor: Actor,
  reason: string,
): Promise<{ waitingHumanSteps: StepRow[]; correlationId: string; state: RunState }> {
  return rt.db.orm.transaction(async (tx) => {
    // `stop` reads nothing from the definition, so it works on a run whose snapshot is refused.
    const raw = await lockRunUnverified(tx, runId);
    if (!raw) throw new QuenchError('not_found', `no run with id ${runId}`);
    if (terminalRunStates.has(raw.state)) throw new QuenchError('conflict', `run ${runId} is already ${raw.state}`);
    const compensate = (raw.definition as { onCancel?: unknown } | null)?.onCancel === 'compensate';
    if (compensate && raw.state === 'compensating')
      throw new QuenchError(
        'conflict',
        `run ${runId} is already compensating and its playbook says onCancel: compensate, so the undo in progress continues; a cancel does not stop it`,
      );
    // An undo runs actions of the definition: only from a verified snapshot. An altered one
    // is stopped instead (it is refused for everything else too).
    const run = compensate ? await verified(tx, runId) : undefined;
    const waitingHumanSteps = (await tx
      .select()
      .from(engineSteps)
      .where(and(eq(engineSteps.runId, runId), eq(engineSteps.kind, 'human'), eq(engineSteps.status, 'waiting')))) as StepRow[];
    const error = { code: 'cancelled', message: reason, by: actor.id, ...(run ? { onCancel: 'compensate' } : {}) };
    const deps = { audit: rt.audit, catalog: rt.actions, now: rt.clock.now() };
    const report = run
      ? await applyEffects(tx, deps, run, undoEffects(runView(run, await stepsOf(tx, runId), rt.actions), error, 'cancelled'), actor, [
          {
            actor,
            action: 'run.cancel_requested',
            subject: { type: 'run', id: runId },
            data: { reason, onCancel: 'compensate', from: run.state, playbook: run.playbook },
            correlationId: run.correlationId,
          },
        ])
      : await applyEffects(tx, deps, raw, [{ type: 'cancelOpen' }, { type: 'run', state: 'cancelled', error }], actor);
    return { waitingHumanSteps, correlationId: raw.correlationId, state: report.runState };
  });
}

async function verified(tx: Parameters<typeof lockRun>[0], runId: string): Promise<RunRow | undefined> {
  try {
    return await lockRun(tx, runId);
  } catch (err) {
    if (err instanceof SnapshotError) return undefined;
    throw err;
  }
}
