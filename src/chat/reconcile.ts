import type { HumanStepView } from '../engine/notifier.js';
import { humanRules } from '../engine/core/human-rules.js';
import type { ChatDeps } from './deps.js';
import { engineRows } from './deps.js';
import { findStep, offerStep } from './offer.js';
import { loadOffer } from './store.js';

/**
 * The engine notifies after commit and best-effort, so a crash between its commit and our offer
 * would leave a step nobody is told about. On start, every waiting human step without an offer
 * is offered now. Its prompt is the playbook's text as written (templates unrendered): the
 * engine renders them only in its live notification.
 */
export async function reconcileWaiting(deps: ChatDeps, waiting: Array<{ id: string }>): Promise<number> {
  let offered = 0;
  for (const { id } of waiting) {
    if (await loadOffer(deps.db.orm, id)) continue;
    const { step, run } = await engineRows(deps, id);
    if (!step || !run || step.status !== 'waiting') continue;
    const def = step.spec.role === 'step' ? findStep(run.definition.steps, step.stepKey) : undefined;
    const human = def?.kind === 'human' ? def : undefined;
    const rules = humanRules(run.definition, step.stepKey, step.spec);
    const view: HumanStepView = {
      stepId: step.id,
      runId: run.id,
      stepKey: step.stepKey,
      role: step.spec.role === 'step' ? 'step' : step.spec.role === 'escalation' ? 'escalation' : 'manual',
      correlationId: run.correlationId,
      playbook: run.playbook,
      prompt: human?.prompt ?? (step.spec.role === 'manual' ? step.spec.reason : `Decide ${step.stepKey}`),
      ...(human?.description ? { description: human.description } : {}),
      type: rules.type,
      risk: rules.risk,
      requiredApprovals: rules.requiredApprovals,
      assign: human?.assign,
      sla: human?.sla,
      timeoutAt: step.wakeAt,
      startedBy: run.startedBy,
      drill: run.drill !== null,
    };
    try {
      await offerStep(deps, view);
      offered++;
    } catch (err) {
      deps.logger.error(
        { err, stepId: id },
        'could not offer a waiting human step at start; it can still be decided through the CLI or /v1',
      );
    }
  }
  return offered;
}
