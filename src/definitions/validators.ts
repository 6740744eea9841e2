import { knownActions } from '../playbooks/catalog.js';
import { playbookValidator } from '../playbooks/validator.js';
import { sloValidator } from '../slo/definitions.js';
import { guardedCheck } from './guard.js';
import type { Problem } from './problem.js';
import type { SourceDocument } from './source.js';

/**
 * A family of definition documents (SLOs and OpenSLO, playbooks). `quench validate` and the
 * loaders give each document to the validator that claims it, then validate each family as a
 * whole, so cross-document checks (duplicate names, references) are possible.
 */
export interface DefinitionValidator {
  readonly family: string;
  /** Whether this document belongs to the family (by apiVersion and kind). */
  claims(doc: SourceDocument): boolean;
  /**
   * Every problem in the family's documents, located. `all`: every document of the run, for
   * references into another family (an SLO naming its playbook).
   */
  validate(docs: SourceDocument[], all?: SourceDocument[]): Problem[];
}

/** The validators `quench validate` uses; capabilities add theirs here. */
export const definitionValidators: DefinitionValidator[] = [sloValidator, playbookValidator(knownActions)];

export function validateDocuments(docs: SourceDocument[], validators = definitionValidators): Problem[] {
  const problems: Problem[] = [];
  const claimed = new Map<DefinitionValidator, SourceDocument[]>(validators.map((v) => [v, []]));
  for (const doc of docs) {
    const owner = validators.find((v) => {
      try {
        return v.claims(doc);
      } catch {
        return false; // a value its claim cannot read is not its document; reported as unknown below
      }
    });
    if (owner) claimed.get(owner)!.push(doc);
    else {
      const value = doc.value as { apiVersion?: unknown; kind?: unknown } | null;
      const what =
        value && typeof value === 'object' && !Array.isArray(value)
          ? `apiVersion ${String(value.apiVersion ?? '(missing)')}, kind ${String(value.kind ?? '(missing)')}`
          : 'not a mapping';
      const known = validators.map((v) => v.family).join(', ') || 'none registered';
      problems.push(doc.problem(['apiVersion'], `unknown document (${what}); expected one of: ${known}`));
    }
  }
  for (const [validator, family] of claimed) {
    if (family.length === 0) continue;
    const { result, problems: crashes } = guardedCheck(family, (own) => validator.validate(own, docs));
    problems.push(...crashes, ...result);
  }
  return problems;
}
