import { parseDuration } from './duration.js';
import type { Playbook, PlaybookInput } from './playbook-schema.js';

/**
 * Run inputs: checked against the playbook's declarations when a run starts (drill, manual
 * start, or trigger), with defaults filled in. Defaults themselves are checked at validation.
 */

/** Why `value` does not fit `input`, or undefined when it does. */
export function inputMismatch(input: PlaybookInput, value: unknown): string | undefined {
  const ok = (() => {
    switch (input.type) {
      case 'string':
        return typeof value === 'string';
      case 'number':
        return typeof value === 'number' && Number.isFinite(value);
      case 'integer':
        return Number.isSafeInteger(value);
      case 'boolean':
        return typeof value === 'boolean';
      case 'duration':
        return typeof value === 'string' && parseDuration(value).ok;
      case 'list':
        return Array.isArray(value);
      case 'map':
        return value !== null && typeof value === 'object' && !Array.isArray(value);
    }
  })();
  if (!ok) return `expected ${input.type === 'integer' ? 'an integer' : `a ${input.type}`}, got ${JSON.stringify(value)}`;
  if (input.enum && !input.enum.includes(value as string | number))
    return `expected one of ${input.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  return undefined;
}

export type ResolvedInputs = { ok: true; inputs: Record<string, unknown> } | { ok: false; problems: string[] };

/** Given values plus defaults; unknown names, missing required inputs and wrong types are problems. */
export function resolveInputs(playbook: Pick<Playbook, 'inputs'>, given: Record<string, unknown> = {}): ResolvedInputs {
  const problems: string[] = [];
  const inputs: Record<string, unknown> = {};
  for (const name of Object.keys(given)) if (!(name in playbook.inputs)) problems.push(`unknown input '${name}'`);
  for (const [name, input] of Object.entries(playbook.inputs)) {
    const value = given[name] !== undefined ? given[name] : input.default;
    if (value === undefined) {
      if (input.required) problems.push(`input '${name}' is required`);
      continue;
    }
    const mismatch = inputMismatch(input, value);
    if (mismatch) problems.push(`input '${name}': ${mismatch}`);
    else inputs[name] = value;
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, inputs };
}
