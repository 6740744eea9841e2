import type { ExpressionContext } from '../playbooks/core/expressions.js';
import { evaluateCondition } from '../playbooks/core/expressions.js';
import type { WaitStep } from '../playbooks/core/model.js';
import { metered } from '../playbooks/core/budget.js';

/**
 * The first event attached to the run that a wait step's `until` accepts. Events delivered
 * before the wait started count too: a resolution that arrives while an earlier step is still
 * running must not be missed.
 */
export function matchingEvent(context: ExpressionContext, until: NonNullable<WaitStep['until']>): unknown {
  const events = ((context.run as { events?: Array<{ type: string; payload: unknown }> } | undefined)?.events ?? []).filter(
    (e) => e.type === until.event,
  );
  // One cost budget for the whole scan: a storm attaches events the playbook did not choose,
  // and each match is evaluated in this one synchronous stretch.
  return metered(() => events.find((e) => !until.match || evaluateCondition(until.match, { ...context, event: e.payload })));
}
