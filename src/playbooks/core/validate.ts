import type { ActionCatalog } from './catalog.js';
import { checkGraph, type GraphProblem } from './graph.js';
import { inputMismatch } from './inputs.js';
import type { Playbook } from './playbook-schema.js';
import { checkStep } from './step-checks.js';
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
  const known = {
    steps: new Set(located.map((s) => s.step.id)),
    inputs: new Set(Object.keys(playbook.inputs)),
    env: new Set(playbook.env),
  };
  for (const s of located) out.push(...checkStep(s, catalog, known));
  for (const [name, input] of Object.entries(playbook.inputs)) {
    if (input.default === undefined) continue;
    const mismatch = inputMismatch(input, input.default);
    if (mismatch) out.push({ path: ['inputs', name, 'default'], message: `default of input '${name}': ${mismatch}` });
  }
  playbook.triggers.forEach((t, i) => {
    // An SLO condition only holds for SLO events; with other event types the trigger never matches.
    const types = t.type === undefined ? [] : Array.isArray(t.type) ? t.type : [t.type];
    if (t.slo && types.length > 0 && !types.some((x) => x.startsWith('slo.'))) {
      out.push({
        path: ['triggers', i, 'slo'],
        message: `trigger ${i + 1} can never match: slo conditions hold only for slo.* events, not ${types.join(', ')}`,
      });
    }
  });
  const seen = new Set<string>();
  playbook.env.forEach((name, i) => {
    if (seen.has(name)) out.push({ path: ['env', i], message: `env ${name} listed twice` });
    seen.add(name);
  });
  return out;
}
