import type { PlaybookInput } from '../../playbooks/core/playbook-schema.js';

/**
 * `--input k=v` values as typed run inputs: the CLI only has strings, so each value is read
 * as the type the playbook declares for that name (numbers, booleans, JSON lists and maps);
 * names the playbook does not declare stay strings and the engine's input check refuses them
 * with the same message a `/v1` start gets.
 */
export type ParsedInputs = { ok: true; inputs: Record<string, unknown> } | { ok: false; problem: string };

export function parseInputArgs(pairs: readonly string[], declared: Record<string, PlaybookInput>): ParsedInputs {
  const inputs: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) return { ok: false, problem: `--input '${pair}' must be NAME=VALUE` };
    const name = pair.slice(0, eq);
    const raw = pair.slice(eq + 1);
    if (name in inputs) return { ok: false, problem: `--input ${name} is given twice` };
    const type = declared[name]?.type;
    inputs[name] = typed(raw, type);
  }
  return { ok: true, inputs };
}

function typed(raw: string, type: PlaybookInput['type'] | undefined): unknown {
  switch (type) {
    case 'number':
    case 'integer':
      // An empty or non-numeric string stays a string so the type check names it.
      return raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
    case 'boolean':
      return raw === 'true' ? true : raw === 'false' ? false : raw;
    case 'list':
    case 'map':
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        return raw;
      }
    default:
      return raw;
  }
}
