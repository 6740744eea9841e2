import type { Playbook, Step } from './model.js';

/**
 * Playbooks nest step lists: the top-level `steps`, each branch of a `parallel` step, and the
 * `fallback.steps` of any step. Each list is a *sequence*: flow runs through it in order, and
 * jumps (`next`, decide branches) stay inside it. A branch's sequence ends the branch; a
 * fallback's sequence ends by resuming after the step that failed; the top level ends the run.
 */
export interface Sequence {
  /** Location of the list in the document, e.g. `['steps', 2, 'branches', 0, 'steps']`. */
  path: PropertyKey[];
  /** Human-readable place: `top level`, `branch 1 of parallel 'notify'`, `fallback of 'rollback'`. */
  label: string;
  steps: Step[];
}

export interface LocatedStep {
  step: Step;
  path: PropertyKey[];
  sequence: Sequence;
}

/** Sequences and steps in document order: a nested list comes right after the step that holds it. */
function walk(playbook: Pick<Playbook, 'steps'>): { sequences: Sequence[]; steps: LocatedStep[] } {
  const sequences: Sequence[] = [];
  const steps: LocatedStep[] = [];
  const visit = (sequence: Sequence) => {
    sequences.push(sequence);
    sequence.steps.forEach((step, i) => {
      const at = [...sequence.path, i];
      steps.push({ step, path: at, sequence });
      if (step.kind === 'parallel') {
        step.branches.forEach((branch, b) => {
          const name = branch.name ? `'${branch.name}'` : String(b + 1);
          visit({ path: [...at, 'branches', b, 'steps'], label: `branch ${name} of parallel '${step.id}'`, steps: branch.steps });
        });
      }
      if (step.fallback?.steps)
        visit({ path: [...at, 'fallback', 'steps'], label: `fallback of '${step.id}'`, steps: step.fallback.steps });
    });
  };
  visit({ path: ['steps'], label: 'top level', steps: playbook.steps });
  return { sequences, steps };
}

/** Every sequence, the top level first, then in document order. */
export function sequencesOf(playbook: Pick<Playbook, 'steps'>): Sequence[] {
  return walk(playbook).sequences;
}

/** Every step at any depth, with its location, in document order. */
export function allSteps(playbook: Pick<Playbook, 'steps'>): LocatedStep[] {
  return walk(playbook).steps;
}

/** A step by id at any depth (ids are unique per playbook once validated). */
export function findStep(playbook: Pick<Playbook, 'steps'>, id: string): LocatedStep | undefined {
  return allSteps(playbook).find((s) => s.step.id === id);
}
