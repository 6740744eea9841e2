import type { ActionCall } from '../../playbooks/core/model.js';
import { derivedKey, type StepSpec } from './step-spec.js';

/**
 * Saga compensation planning: the undo actions of the steps that completed and changed the
 * world, in the reverse order of their completion. Reverse order matters: undoing "scale up"
 * before "drain traffic" would briefly send traffic to capacity that is being removed.
 */
export interface CompletedStep {
  key: string;
  completedSeq: number;
  /** The undo call, when the step declares one or its action has a default. */
  compensation: ActionCall | undefined;
}

export interface PlannedCompensation {
  key: string;
  of: string;
  spec: Extract<StepSpec, { role: 'compensation' }>;
}

export function planCompensation(completed: readonly CompletedStep[]): PlannedCompensation[] {
  return completed
    .filter((s): s is CompletedStep & { compensation: ActionCall } => s.compensation !== undefined)
    .sort((a, b) => b.completedSeq - a.completedSeq)
    .map((s, order) => ({
      key: derivedKey.compensation(s.key),
      of: s.key,
      spec: { role: 'compensation', of: s.key, call: s.compensation, order },
    }));
}
