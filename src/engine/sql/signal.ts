import { and, eq, notInArray } from 'drizzle-orm';
import { QuenchError } from '../../core/errors.js';
import { indexPlaybook } from '../core/flow.js';
import { terminalRunStates } from '../core/states.js';
import { runContext } from '../context.js';
import { matchingEvent } from '../events.js';
import type { Actor } from '../model.js';
import type { Runtime } from '../runtime.js';
import { engineEvents, engineRuns } from '../schema.js';
import { lockRunUnverified, stepsOf } from './load.js';
import { pinnedDefinition, SnapshotError } from '../snapshots.js';
import { applyStepResult } from './transition.js';

/**
 * Delivers an event (`alert.resolved`, `alert.attached`, …) to a run, or to every open run of
 * a correlation id. The event is stored first, so a wait step that starts later still finds it;
 * wait steps already waiting for it complete in the same transaction.
 */
export type SignalTarget = { runId: string } | { correlationId: string };

export interface SignalResult {
  runs: string[];
  completedSteps: string[];
}

export async function signalRuns(
  rt: Runtime,
  target: SignalTarget,
  event: { type: string; payload?: unknown },
  actor: Actor,
): Promise<SignalResult> {
  const runIds =
    'runId' in target
      ? [target.runId]
      : (
          await rt.db.orm
            .select({ id: engineRuns.id })
            .from(engineRuns)
            .where(and(eq(engineRuns.correlationId, target.correlationId), notInArray(engineRuns.state, [...terminalRunStates])))
        ).map((r) => r.id);
  const out: SignalResult = { runs: [], completedSteps: [] };
  for (const runId of runIds) {
    await rt.db.orm.transaction(async (tx) => {
      const now = rt.clock.now();
      const run = await lockRunUnverified(tx, runId);
      if (!run) throw new QuenchError('not_found', `no run with id ${runId}`);
      if (terminalRunStates.has(run.state)) {
        if ('runId' in target) throw new QuenchError('conflict', `run ${runId} is ${run.state}; it takes no more events`);
        return;
      }
      const payload = event.payload ?? {};
      await tx.insert(engineEvents).values({ runId, type: event.type, payload, receivedAt: now });
      await rt.audit.append(
        { actor, action: 'run.event', subject: { type: 'run', id: runId }, data: { type: event.type }, correlationId: run.correlationId },
        tx,
      );
      out.runs.push(runId);
      // The event is stored whatever the snapshot says; waits are matched only through the
      // verified definition (an altered one must not complete them).
      try {
        run.definition = pinnedDefinition(run);
      } catch (err) {
        if (!(err instanceof SnapshotError)) throw err;
        rt.logger.warn({ err, runId }, 'event stored but not matched: the run snapshot is refused');
        return;
      }
      const rows = await stepsOf(tx, runId);
      const index = indexPlaybook(run.definition);
      // Only waits for this event type: the run's events are read (for their conditions) only
      // then, so an alert storm attaching hundreds of alerts to a run that waits for another
      // event does not re-read every earlier event at each one.
      const waiting = rows.flatMap((r) => {
        const pb = r.kind === 'wait' && r.status === 'waiting' && r.spec.role === 'step' ? index.get(r.stepKey)?.step : undefined;
        return pb?.kind === 'wait' && pb.until?.event === event.type ? [{ step: r, until: pb.until }] : [];
      });
      if (waiting.length === 0) return;
      const context = await runContext(tx, run, rows, rt.env);
      for (const { step, until } of waiting) {
        const matched = matchingEvent(context, until);
        if (!matched) continue;
        await applyStepResult(
          tx,
          { audit: rt.audit, catalog: rt.actions, now },
          run,
          step,
          { status: 'succeeded', output: { event: matched } },
          actor,
        );
        out.completedSteps.push(step.id);
        if (terminalRunStates.has(run.state)) break;
      }
    });
  }
  return out;
}
