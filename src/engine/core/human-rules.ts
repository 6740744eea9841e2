import { type Playbook, requiredApprovals, type Step } from '../../playbooks/core/model.js';
import { indexPlaybook } from './flow.js';
import type { StepSpec } from './step-spec.js';

/**
 * The decision rules of a human step row: what it asks for, its risk and how many distinct
 * approvers it needs. An escalation raised when a step failed for good keeps that step's risk
 * and four-eyes requirement: approving it lets the run go on past the refused (or timed-out)
 * step, so it must be at least as hard to approve as the step itself. Pure, so the executor
 * (what people are told) and `decide` (what is enforced) cannot disagree.
 */
export interface HumanRules {
  type: 'approve' | 'choice' | 'input';
  risk: 'low' | 'medium' | 'high';
  requiredApprovals: number;
  /** The playbook's human step, for a playbook step row. */
  human?: Extract<Step, { kind: 'human' }>;
  /** For an escalation: the playbook step that failed. */
  escalationOf?: Step;
}

export function humanRules(definition: Pick<Playbook, 'steps'>, stepKey: string, spec: StepSpec): HumanRules {
  const index = indexPlaybook(definition);
  if (spec.role === 'step') {
    const step = index.get(stepKey)?.step;
    const human = step?.kind === 'human' ? step : undefined;
    if (!human) return { type: 'approve', risk: 'low', requiredApprovals: 1 };
    return { type: human.type, risk: human.risk, requiredApprovals: requiredApprovals(human), human };
  }
  if (spec.role === 'escalation') {
    const failed = index.get(spec.of)?.step;
    // A step the definition no longer has (cannot happen with pinned snapshots) is treated as risky.
    const risk = failed?.risk ?? 'high';
    return { type: 'approve', risk, requiredApprovals: requiredApprovals({ risk }), ...(failed ? { escalationOf: failed } : {}) };
  }
  // A manual step records that a person undid a failed compensation by hand.
  return { type: 'approve', risk: 'high', requiredApprovals: 1 };
}
