import type { ActionCall } from '../../playbooks/core/model.js';

/**
 * What a step row is, beyond its playbook step. Most rows are playbook steps (`step`); the
 * engine derives the others when a step fails (a fallback action, an escalation) or the run
 * fails (compensations, and the manual step raised when a compensation fails for good).
 * Derived keys contain `/`, which playbook step ids cannot, so they never collide.
 */
export type StepSpec =
  | { role: 'step' }
  | { role: 'fallback'; of: string; call: ActionCall }
  | { role: 'compensation'; of: string; call: ActionCall; order: number }
  | { role: 'escalation'; of: string }
  | { role: 'manual'; of: string; reason: string };

export type RowKind = 'action' | 'human' | 'decide' | 'wait' | 'parallel';

export const derivedKey = {
  fallback: (of: string) => `${of}/fallback`,
  compensation: (of: string) => `${of}/compensate`,
  escalation: (of: string) => `${of}/escalate`,
  manual: (of: string) => `${of}/manual`,
};

export function rowKindOf(spec: StepSpec, playbookKind: RowKind | undefined): RowKind {
  switch (spec.role) {
    case 'fallback':
    case 'compensation':
      return 'action';
    case 'escalation':
    case 'manual':
      return 'human';
    case 'step':
      if (!playbookKind) throw new Error('a playbook step row needs its playbook kind');
      return playbookKind;
  }
}
