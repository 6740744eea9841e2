import type { AuditTrail } from '../audit/trail.js';
import { isQuenchError, QuenchError } from '../core/errors.js';
import type { Database } from '../db/database.js';
import type { Engine } from '../engine/engine.js';
import type { Actor, Decision, DecisionContext } from '../engine/model.js';
import { authorise } from './decisions.js';

/**
 * The authorisation every human-step decision passes, whatever the channel: Slack clicks, `quench
 * approve|reject` and `POST /v1/steps/:id/decision` all call the gated `engine.decide`. The
 * engine refuses the run's starter, repeated approvers and four-eyes answers that disagree,
 * inside its transaction; this adds "only the assignees" (who, only chat knows) with
 * identities compared by alias. Every refusal, from either layer, is audited with who tried
 * and the path (`via`). It needs only the database, so the CLI applies it without Slack running.
 */
export interface HumanStepGate {
  /** Throws `forbidden` (or `conflict` when the step is no longer waiting) with the reason. */
  check(stepId: string, actor: Actor, decision: Decision, context?: DecisionContext): Promise<void>;
  /** Audits a refusal the engine itself made (its error passes through unchanged). */
  engineRefused(stepId: string, actor: Actor, decision: Decision, context: DecisionContext | undefined, err: unknown): Promise<void>;
}

export function createHumanStepGate(deps: { db: Database; audit: AuditTrail }): HumanStepGate {
  return {
    async check(stepId, actor, decision, context = {}) {
      // Quench components (the approval policy, escalations) decide as the system, by design.
      if (actor.type === 'system') return;
      const reason = decision.outcome === 'reject' ? decision.reason : undefined;
      const verdict = await authorise(
        deps,
        stepId,
        { aliases: [actor.id, ...(context.aliases ?? [])], display: actor.id },
        decision.outcome === 'reject' ? 'reject' : 'approve',
        reason,
      );
      if (verdict.kind !== 'refused') return;
      // Nothing to decide, nothing to audit: an unknown id is a typo, not a refused person.
      if (verdict.code === 'no_such_step') throw new QuenchError('not_found', verdict.message);
      await auditRefusal(deps.audit, stepId, actor, decision, context, verdict.code, verdict.message);
      throw new QuenchError(verdict.code === 'already_decided' ? 'conflict' : 'forbidden', verdict.message, {
        details: { refusal: verdict.code },
      });
    },
    async engineRefused(stepId, actor, decision, context, err) {
      // A race on another replica, a four-eyes value mismatch, a malformed answer: refusals too.
      if (actor.type !== 'user' || !isQuenchError(err) || !['forbidden', 'conflict', 'bad_request'].includes(err.code)) return;
      const code = typeof err.details?.refusal === 'string' ? err.details.refusal : err.code;
      await auditRefusal(deps.audit, stepId, actor, decision, context ?? {}, code, err.message);
    },
  };
}

async function auditRefusal(
  audit: AuditTrail,
  stepId: string,
  actor: Actor,
  decision: Decision,
  context: DecisionContext,
  code: string,
  message: string,
): Promise<void> {
  await audit.append({
    actor,
    action: 'human_step.refused',
    subject: { type: 'step', id: stepId },
    data: {
      user: actor.id,
      code,
      decision: decision.outcome,
      ...('value' in decision ? { value: decision.value } : {}),
      reason: message,
      ...(context.via ? { via: context.via } : {}),
    },
  });
}

/** The engine with every `decide` passing the gate first; everything else is the engine's own. */
export function withHumanStepGate(engine: Engine, gate: HumanStepGate): Engine {
  return {
    ...engine,
    async decide(stepId, decision, actor, context) {
      await gate.check(stepId, actor, decision, context);
      try {
        return await engine.decide(stepId, decision, actor, context);
      } catch (err) {
        await gate.engineRefused(stepId, actor, decision, context, err);
        throw err;
      }
    },
  };
}
