import { END, type Step } from './model.js';
import { allSteps, type Sequence, sequencesOf } from './walk.js';
import type { Playbook } from './playbook-schema.js';

/**
 * Flow checks over each sequence (see ./walk.ts): duplicate ids, jump targets, cycles and
 * unreachable steps. Loops are rejected: a run must end, and every bounded repetition a
 * playbook needs is expressed with `retry` or a `wait … until` with a timeout. Rejecting
 * cycles keeps "the run terminates" a property the validator proves, not one an author hopes for.
 */

export interface GraphProblem {
  path: PropertyKey[];
  message: string;
}

/** An edge of the flow graph, located at the field that creates it. */
export interface Edge {
  from: string;
  to: string;
  path: PropertyKey[];
}

/** Successors of the step at index `i`: its explicit jumps, or the next step in order. */
export function edgesOf(sequence: Sequence, i: number): Edge[] {
  const step = sequence.steps[i]!;
  const at = [...sequence.path, i];
  const following = sequence.steps[i + 1]?.id ?? END;
  const edge = (to: string, path: PropertyKey[]): Edge => ({ from: step.id, to, path });
  if (step.kind === 'decide') {
    const edges = step.branches.map((b, j) => edge(b.next, [...at, 'branches', j, 'next']));
    edges.push(step.default ? edge(step.default, [...at, 'default']) : edge(following, at));
    // A decide skipped by `when` continues with the next step in order.
    if (step.when && step.default) edges.push(edge(following, [...at, 'when']));
    return edges;
  }
  return [step.next ? edge(step.next, [...at, 'next']) : edge(following, at)];
}

export function checkGraph(playbook: Pick<Playbook, 'steps'>): GraphProblem[] {
  const problems: GraphProblem[] = [];
  const sequences = sequencesOf(playbook);
  const { problems: duplicates, home } = indexIds([...allSteps(playbook)].map(({ step, path, sequence }) => ({ id: step.id, path, sequence })));
  problems.push(...duplicates);
  for (const sequence of sequences) problems.push(...checkSequence(sequence, home));
  return problems;
}

/**
 * Duplicate step ids over steps in document order, and the sequence each id is first defined in
 * (its home, which jumps must stay within). Shared with the checks of a playbook that failed its
 * schema (validate.ts), which walk the raw document.
 */
export function indexIds<S>(steps: Iterable<{ id: string; path: PropertyKey[]; sequence: S }>): { problems: GraphProblem[]; home: Map<string, S> } {
  const problems: GraphProblem[] = [];
  const home = new Map<string, S>();
  const firstPath = new Map<string, PropertyKey[]>();
  for (const { id, path: at, sequence } of steps) {
    const path = [...at, 'id'];
    const seen = firstPath.get(id);
    if (seen) problems.push({ path, message: `duplicate step id '${id}' (first used at ${seen.map(String).join('.')})` });
    else {
      firstPath.set(id, path);
      home.set(id, sequence);
    }
  }
  return { problems, home };
}

function checkSequence(sequence: Sequence, home: Map<string, Sequence>): GraphProblem[] {
  const problems: GraphProblem[] = [];
  const index = new Map(sequence.steps.map((s, i) => [s.id, i]));
  const adjacency = new Map<string, Edge[]>();
  sequence.steps.forEach((step, i) => {
    const good: Edge[] = [];
    for (const e of edgesOf(sequence, i)) {
      if (e.to === END || index.has(e.to)) good.push(e);
      else problems.push({ path: e.path, message: unknownTarget(e.to, sequence.steps.map((s) => s.id), sequence.label, home) });
    }
    adjacency.set(step.id, good);
  });
  // Depth-first search from the first step; a back edge closes a cycle, reported with its path.
  const state = new Map<string, 'open' | 'done'>();
  const trail: string[] = [];
  const reported = new Set<string>();
  const visit = (id: string) => {
    state.set(id, 'open');
    trail.push(id);
    for (const e of adjacency.get(id) ?? []) {
      if (e.to === END) continue;
      const s = state.get(e.to);
      if (s === 'open') {
        const cycle = [...trail.slice(trail.indexOf(e.to)), e.to];
        const key = [...cycle].sort().join(',');
        if (!reported.has(key)) {
          reported.add(key);
          problems.push({
            path: e.path,
            message: `cycle: ${cycle.join(' → ')}; loops are not allowed (use retry, or wait … until with a timeout)`,
          });
        }
      } else if (s === undefined) visit(e.to);
    }
    trail.pop();
    state.set(id, 'done');
  };
  const first = sequence.steps[0];
  if (first) visit(first.id);
  sequence.steps.forEach((step: Step, i) => {
    if (!state.has(step.id)) {
      problems.push({
        path: [...sequence.path, i, 'id'],
        message: `step '${step.id}' is unreachable: no step of the ${sequence.label} leads to it`,
      });
    }
  });
  return problems;
}

/** Why a jump from the sequence `label` (whose step ids are `ids`) to `target` goes nowhere. */
export function unknownTarget(target: string, ids: readonly string[], label: string, home: Map<string, { label: string }>): string {
  const elsewhere = home.get(target);
  if (elsewhere) return `step '${target}' is in the ${elsewhere.label}; jumps must stay within the ${label}`;
  const hint = closest(target, [...ids, END]);
  return `unknown step '${target}'${hint ? ` (did you mean '${hint}'?)` : ''}`;
}

/** The candidate within edit distance 2, for "did you mean". */
export function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}
