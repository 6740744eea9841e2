import type { Playbook, Step } from '../../playbooks/core/model.js';

/**
 * Where each step of a playbook sits, and what follows it. Steps run in list order unless a
 * step says `next` (or a decide step picks a branch); a list ends at its last step or at
 * `end`. Lists are the top level, the branches of a parallel step, and fallback step lists.
 * The validator rejects cycles, so every step runs at most once per run and its id is a
 * stable key for its row.
 */
export type Scope = { kind: 'top' } | { kind: 'branch'; parallel: string; branch: number } | { kind: 'fallback'; owner: string };

export interface StepLocation {
  step: Step;
  list: readonly Step[];
  index: number;
  scope: Scope;
}

export type StepIndex = ReadonlyMap<string, StepLocation>;

export const END = 'end';

export function indexSteps(steps: readonly Step[]): StepIndex {
  const index = new Map<string, StepLocation>();
  const walk = (list: readonly Step[], scope: Scope) => {
    list.forEach((step, i) => {
      index.set(step.id, { step, list, index: i, scope });
      if (step.kind === 'parallel') {
        step.branches.forEach((b, n) => {
          walk(b.steps, { kind: 'branch', parallel: step.id, branch: n });
        });
      }
      if (step.fallback?.steps) walk(step.fallback.steps, { kind: 'fallback', owner: step.id });
    });
  };
  walk(steps, { kind: 'top' });
  return index;
}

/**
 * A definition's index, built once per definition: a run's definition is immutable (pinned,
 * and cached by the engine), and the hot path asks for it several times per step (the
 * executor, the transition, the action lookup, the prestart).
 */
const indexes = new WeakMap<readonly Step[], StepIndex>();

export function indexPlaybook(playbook: Pick<Playbook, 'steps'>): StepIndex {
  let index = indexes.get(playbook.steps);
  if (!index) indexes.set(playbook.steps, (index = indexSteps(playbook.steps)));
  return index;
}

export type Next = { start: string } | { end: Scope };

/** The first step of a list, as a `Next`. */
export function firstOf(list: readonly Step[], scope: Scope): Next {
  const first = list[0];
  return first ? { start: first.id } : { end: scope };
}

/**
 * What follows `id` once it is done. `target` is a decide step's chosen branch (or any
 * explicit jump); otherwise the step's own `next`, then the next step in its list.
 */
export function successor(index: StepIndex, id: string, target?: string): Next {
  const loc = index.get(id);
  if (!loc) throw new Error(`unknown step '${id}' in the run's playbook snapshot`);
  const jump = target ?? loc.step.next;
  if (jump === END) return { end: loc.scope };
  if (jump !== undefined) {
    if (!index.has(jump)) throw new Error(`step '${id}' jumps to unknown step '${jump}'`);
    return { start: jump };
  }
  const following = loc.list[loc.index + 1];
  return following ? { start: following.id } : { end: loc.scope };
}
