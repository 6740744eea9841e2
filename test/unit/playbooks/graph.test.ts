import { describe, expect, it } from 'vitest';
import { checkGraph } from '../../../src/playbooks/core/graph.js';
import { type Step, stepSchema } from '../../../src/playbooks/core/model.js';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const log = (id: string, next?: string): Step =>
  stepSchema.parse({ id, kind: 'action', action: 'log', params: { message: id }, ...(next ? { next } : {}) });
const decide = (id: string, targets: string[], fallback?: string): Step =>
  stepSchema.parse({
    id,
    kind: 'decide',
    branches: targets.map((t) => ({ when: 'true', next: t })),
    ...(fallback ? { default: fallback } : {}),
  });

/**
 * Random step lists whose jumps only go forward (or to `end`): never a cycle. Every step is
 * reachable because each decide keeps a branch to the step right after it.
 */
function forwardOnly(next: () => number, n: number): Step[] {
  const ids = Array.from({ length: n }, (_, i) => `s${i}`);
  return ids.map((id, i) => {
    const later = ids.slice(i + 1);
    if (next() < 0.4 && later.length > 0) {
      const targets = [later[0]!, ...later.filter(() => next() < 0.3)];
      return decide(id, targets, next() < 0.5 ? 'end' : undefined);
    }
    return log(id);
  });
}

describe('flow graph', () => {
  it('random forward-only flows have no problems', () => {
    const next = rng(99);
    for (let round = 0; round < 300; round++) {
      const steps = forwardOnly(next, 2 + Math.floor(next() * 12));
      expect(checkGraph({ steps })).toEqual([]);
    }
  });

  it('adding any backward jump to a random flow creates exactly the cycle it closes', () => {
    const next = rng(5);
    for (let round = 0; round < 300; round++) {
      const steps = forwardOnly(next, 3 + Math.floor(next() * 10));
      const from = 1 + Math.floor(next() * (steps.length - 1));
      const to = Math.floor(next() * (from + 1));
      // Turn `from` into a plain step that jumps back to `to`: every step from `to` to `from` is on a path.
      steps[from] = log(steps[from]!.id, steps[to]!.id);
      const problems = checkGraph({ steps }).filter((p) => p.message.startsWith('cycle:'));
      expect(problems).toHaveLength(1);
      const cycle = problems[0]!.message.slice('cycle: '.length).split(';')[0]!.split(' → ');
      expect(cycle[0]).toBe(cycle[cycle.length - 1]);
      expect(cycle).toContain(steps[to]!.id);
      expect(cycle[cycle.length - 2]).toBe(steps[from]!.id);
      expect(problems[0]!.path).toEqual(['steps', from, 'next']);
    }
  });

  it('a self-jump is a cycle of one step', () => {
    expect(checkGraph({ steps: [log('a', 'a')] })).toEqual([
      { path: ['steps', 0, 'next'], message: 'cycle: a → a; loops are not allowed (use retry, or wait … until with a timeout)' },
    ]);
  });
});
