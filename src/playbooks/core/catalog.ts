import type { z } from 'zod';

/**
 * The port through which the playbook validator knows actions. The engine (src/actions)
 * registers the real built-in actions; the validator checks every `action:` name and its
 * `params` against this catalog, and compensation defaults come from it.
 *
 * `params` should be a `z.strictObject` so unknown parameters are reported. Parameters are
 * checked before templates are rendered: where a whole value is a `${{ expr }}` template its
 * type is only known at run time and the validator skips type checks below it.
 */
export interface ActionSpec {
  name: string;
  /** One line, for `quench schema` and the docs. */
  description?: string;
  params: z.ZodType;
  /** Whether it changes the world; only state-changing steps are compensated when a run fails. */
  changesState: boolean;
  /**
   * The undo used when a step of this action declares no `compensate`. Its params are templates
   * over the run context, where `steps.<id>` is the step being compensated (its `params` and `output`)
   * — e.g. `pagerduty.trigger` → `pagerduty.resolve`.
   */
  compensation?: { action: string; params?: Record<string, unknown> };
}

export interface ActionCatalog {
  get(name: string): ActionSpec | undefined;
  /** Every registered name, sorted; used in "did you mean" hints. */
  names(): string[];
}

/** A catalog over a fixed list of specs; duplicate names are a programming error. */
export function catalogOf(specs: Iterable<ActionSpec>): ActionCatalog {
  const byName = new Map<string, ActionSpec>();
  for (const spec of specs) {
    if (byName.has(spec.name)) throw new Error(`action '${spec.name}' registered twice`);
    byName.set(spec.name, spec);
  }
  const names = [...byName.keys()].sort();
  return { get: (name) => byName.get(name), names: () => names };
}
