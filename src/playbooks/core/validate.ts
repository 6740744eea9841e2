import type { ActionCatalog } from './catalog.js';
import { checkGraph, type GraphProblem, indexIds, unknownTarget } from './graph.js';
import { inputMismatch } from './inputs.js';
import { inputSchema, type Playbook, type PlaybookInput, playbookSchema } from './playbook-schema.js';
import { checkCondition, checkStep, type Known } from './step-checks.js';
import { END, stepSchema } from './steps-schema.js';
import { type TriggerMatcher, triggerMatcherSchema } from './triggers-schema.js';
import { allSteps } from './walk.js';

/**
 * The checks that follow the zod schema, on one parsed playbook: the flow graph, per-step
 * rules, expressions, actions and inputs. Each problem carries the path of the field it is
 * about; src/playbooks/validator.ts turns paths into file:line:col.
 */

/** Every problem of one parsed playbook, located by path. */
export function checkPlaybook(playbook: Playbook, catalog: ActionCatalog): GraphProblem[] {
  const out: GraphProblem[] = checkGraph(playbook);
  const located = allSteps(playbook);
  const known: Known = {
    steps: new Set(located.map((s) => s.step.id)),
    inputs: new Set(Object.keys(playbook.inputs)),
    env: new Set(playbook.env),
    inputTypes: Object.fromEntries(Object.entries(playbook.inputs).map(([name, input]) => [name, input.type])),
  };
  for (const s of located) out.push(...checkStep(s, catalog, known));
  out.push(...checkInputDefaults(Object.entries(playbook.inputs)));
  out.push(...checkTriggers(playbook.triggers.map((t, i) => [i, t])));
  out.push(...checkEnv(playbook.env));
  return out;
}

function checkInputDefaults(inputs: [string, PlaybookInput][]): GraphProblem[] {
  const out: GraphProblem[] = [];
  for (const [name, input] of inputs) {
    if (input.default === undefined) continue;
    const mismatch = inputMismatch(input, input.default);
    if (mismatch) out.push({ path: ['inputs', name, 'default'], message: `default of input '${name}': ${mismatch}` });
  }
  return out;
}

/** Triggers with their index in the file (a partial check skips the ones that did not parse). */
function checkTriggers(triggers: [number, TriggerMatcher][]): GraphProblem[] {
  const out: GraphProblem[] = [];
  for (const [i, t] of triggers) {
    // An SLO condition only holds for SLO events; with other event types the trigger never matches.
    const types = t.type === undefined ? [] : Array.isArray(t.type) ? t.type : [t.type];
    if (t.slo && types.length > 0 && !types.some((x) => x.startsWith('slo.'))) {
      out.push({
        path: ['triggers', i, 'slo'],
        message: `trigger ${i + 1} can never match: slo conditions hold only for slo.* events, not ${types.join(', ')}`,
      });
    }
  }
  return out;
}

function checkEnv(env: unknown[]): GraphProblem[] {
  const out: GraphProblem[] = [];
  const seen = new Set<unknown>();
  env.forEach((name, i) => {
    if (typeof name !== 'string') return;
    if (seen.has(name)) out.push({ path: ['env', i], message: `env ${name} listed twice` });
    seen.add(name);
  });
  return out;
}

/*
 * Partial checks. `quench validate` prints every problem in one pass, so a playbook whose
 * schema check failed (reported field by field by src/playbooks/validator.ts) still gets the
 * checks that do not need the whole playbook, on the parts that do parse: each step, trigger
 * and input on its own, plus duplicate step ids and jump targets over the raw step lists.
 * What needs every step to be valid (cycles, unreachable steps) waits until the schema
 * problems are fixed; so do the checks of a step, trigger or input that itself does not parse.
 * Names are taken from the raw document, so a reference to a step or input whose other fields
 * are wrong is not reported as unknown.
 */

type Raw = Record<string, unknown>;
const isRaw = (v: unknown): v is Raw => v !== null && typeof v === 'object' && !Array.isArray(v);

interface RawSequence {
  path: PropertyKey[];
  label: string;
  steps: unknown[];
}
interface RawStep {
  value: Raw;
  path: PropertyKey[];
  sequence: RawSequence;
}

function rawWalk(steps: unknown): { sequences: RawSequence[]; steps: RawStep[] } {
  const sequences: RawSequence[] = [];
  const out: RawStep[] = [];
  const visit = (sequence: RawSequence) => {
    sequences.push(sequence);
    sequence.steps.forEach((value, i) => {
      if (!isRaw(value)) return;
      const at = [...sequence.path, i];
      out.push({ value, path: at, sequence });
      const id = typeof value.id === 'string' ? value.id : `#${i + 1}`;
      if (value.kind === 'parallel' && Array.isArray(value.branches)) {
        value.branches.forEach((branch, b) => {
          if (!isRaw(branch) || !Array.isArray(branch.steps)) return;
          const name = typeof branch.name === 'string' ? `'${branch.name}'` : String(b + 1);
          visit({ path: [...at, 'branches', b, 'steps'], label: `branch ${name} of parallel '${id}'`, steps: branch.steps });
        });
      }
      if (isRaw(value.fallback) && Array.isArray(value.fallback.steps))
        visit({ path: [...at, 'fallback', 'steps'], label: `fallback of '${id}'`, steps: value.fallback.steps });
    });
  };
  if (Array.isArray(steps)) visit({ path: ['steps'], label: 'top level', steps });
  return { sequences, steps: out };
}

/**
 * The problems `checkPlaybook` can still find in a playbook document that failed the schema,
 * none of them a repeat of a schema problem. A document that parses gets `[]` here: use
 * `checkPlaybook` on the parsed value.
 */
export function checkUnparsedPlaybook(value: unknown, catalog: ActionCatalog): GraphProblem[] {
  if (!isRaw(value) || playbookSchema.safeParse(value).success) return [];
  const out: GraphProblem[] = [];
  const { sequences, steps } = rawWalk(value.steps);
  const rawInputs = isRaw(value.inputs) ? Object.entries(value.inputs) : [];
  const inputs = rawInputs.flatMap(([name, raw]): [string, PlaybookInput][] => {
    const parsed = inputSchema.safeParse(raw);
    return parsed.success ? [[name, parsed.data]] : [];
  });
  const env = Array.isArray(value.env) ? value.env : [];
  const known: Known = {
    steps: new Set(steps.flatMap((s) => (typeof s.value.id === 'string' ? [s.value.id] : []))),
    inputs: new Set(rawInputs.map(([name]) => name)),
    env: new Set(env.filter((n): n is string => typeof n === 'string')),
    // Only inputs that parse have a known type; the others read as dyn (nothing is refused for them).
    inputTypes: Object.fromEntries(inputs.map(([name, input]) => [name, input.type])),
  };

  // Duplicate ids, over every step that has a string id.
  const { problems: duplicates, home } = indexIds(
    steps.flatMap((s) => (typeof s.value.id === 'string' ? [{ id: s.value.id, path: s.path, sequence: s.sequence }] : [])),
  );
  out.push(...duplicates);
  // Jump targets, in lists where every step has an id (else the target may be the step without one).
  for (const sequence of sequences) {
    if (!sequence.steps.every((s) => isRaw(s) && typeof s.id === 'string')) continue;
    const ids = sequence.steps.map((s) => (s as Raw).id as string);
    const target = (to: unknown, path: PropertyKey[]) => {
      if (typeof to !== 'string' || to === '' || to === END || ids.includes(to)) return;
      out.push({ path, message: unknownTarget(to, ids, sequence.label, home) });
    };
    sequence.steps.forEach((raw, i) => {
      const step = raw as Raw;
      const at = [...sequence.path, i];
      if (step.kind === 'decide') {
        if (Array.isArray(step.branches)) step.branches.forEach((b, j) => isRaw(b) && target(b.next, [...at, 'branches', j, 'next']));
        target(step.default, [...at, 'default']);
      } else target(step.next, [...at, 'next']);
    });
  }
  // Each step that parses on its own gets every per-step check; one that does not still has its conditions compiled.
  for (const s of steps) {
    const parsed = stepSchema.safeParse(s.value);
    if (parsed.success) {
      out.push(...checkStep({ step: parsed.data, path: s.path, sequence: { path: s.sequence.path, label: s.sequence.label, steps: [] } }, catalog, known));
      continue;
    }
    if (typeof s.value.when === 'string' && s.value.when !== '') out.push(...checkCondition(s.value.when, [...s.path, 'when'], known));
    if (s.value.kind === 'decide' && Array.isArray(s.value.branches)) {
      s.value.branches.forEach((b, j) => {
        if (isRaw(b) && typeof b.when === 'string' && b.when !== '')
          out.push(...checkCondition(b.when, [...s.path, 'branches', j, 'when'], known));
      });
    }
  }
  out.push(...checkInputDefaults(inputs));
  const triggers = Array.isArray(value.triggers) ? value.triggers : [];
  out.push(
    ...checkTriggers(
      triggers.flatMap((raw, i): [number, TriggerMatcher][] => {
        const parsed = triggerMatcherSchema.safeParse(raw);
        return parsed.success ? [[i, parsed.data]] : [];
      }),
    ),
  );
  out.push(...checkEnv(env));
  return out;
}
