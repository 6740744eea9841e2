import type { AuditTrail } from '../audit/trail.js';
import { QuenchError } from '../core/errors.js';
import type { Database } from '../db/database.js';
import type { Engine } from '../engine/engine.js';
import type { Actor, Decision } from '../engine/model.js';
import { authorise } from './decisions.js';

/**
 * The authorisation every human-step decision passes, whatever the channel: Slack clicks, `quench
 * approve|reject` and `POST /v1/steps/:id/decision`. The engine already refuses the run's starter
 * and repeated approvers; this adds "only the assignees" (who, only chat knows) with identities
 * compared by alias. It needs only the database, so the CLI applies it without Slack running.
 */
export interface HumanStepGate {
  /** Throws `forbidden` (or `conflict` when the step is no longer waiting) with the reason. */
  check(stepId: string, actor: Actor, decision: Decision): Promise<void>;
}

export function createHumanStepGate(deps: { db: Database; audit: AuditTrail }): HumanStepGate {
  return {
    async check(stepId, actor, decision) {
      // Quench components (the approval policy, escalations) decide as the system, by design.
      if (actor.type === 'system') return;
      const reason = decision.outcome === 'reject' ? decision.reason : undefined;
      const verdict = await authorise(
        deps,
        stepId,
        { aliases: [actor.id], display: actor.id },
        decision.outcome === 'reject' ? 'reject' : 'approve',
        reason,
      );
      if (verdict.kind !== 'refused') return;
      await deps.audit.append({
        actor,
        action: 'human_step.refused',
        subject: { type: 'step', id: stepId },
        data: { user: actor.id, code: verdict.code, decision: decision.outcome },
      });
      throw new QuenchError(verdict.code === 'already_decided' ? 'conflict' : 'forbidden', verdict.message);
    },
  };
}

/** The engine with every `decide` passing the gate first; everything else is the engine's own. */
export function withHumanStepGate(engine: Engine, gate: HumanStepGate): Engine {
  return {
    ...engine,
    async decide(stepId, decision, actor) {
      await gate.check(stepId, actor, decision);
      return engine.decide(stepId, decision, actor);
    },
  };
}
