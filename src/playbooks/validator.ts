import type { Problem } from '../definitions/problem.js';
import { type SourceDocument, zodProblems } from '../definitions/source.js';
import type { DefinitionValidator } from '../definitions/validators.js';
import type { ActionCatalog } from './core/catalog.js';
import { API_VERSION, KIND, type Playbook, playbookSchema } from './core/playbook-schema.js';
import { checkPlaybook } from './core/validate.js';

/**
 * Playbook documents as a definition family: the zod schema first (problems at their field),
 * then `checkPlaybook` for documents that parse, then names across documents. Every problem is
 * located at its line and column.
 */

export interface CheckedPlaybook {
  doc: SourceDocument;
  playbook: Playbook;
}

export function claimsPlaybook(doc: SourceDocument): boolean {
  const v = doc.value as { apiVersion?: unknown; kind?: unknown } | null;
  return v !== null && typeof v === 'object' && v.apiVersion === API_VERSION && v.kind === KIND;
}

/** The valid playbooks (a later duplicate of a name is not one) and every problem. */
export function checkPlaybookDocuments(
  docs: SourceDocument[],
  catalog: ActionCatalog,
): { playbooks: CheckedPlaybook[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const playbooks: CheckedPlaybook[] = [];
  const firstByName = new Map<string, SourceDocument>();
  for (const doc of docs) {
    const name = (doc.value as { metadata?: { name?: unknown } } | null)?.metadata?.name;
    const earlier = typeof name === 'string' ? firstByName.get(name) : undefined;
    if (earlier) {
      const at = earlier.positionOf(['metadata', 'name']);
      problems.push(
        doc.problem(
          ['metadata', 'name'],
          `duplicate playbook name '${String(name)}' (also defined at ${earlier.file}:${at.line}:${at.col})`,
        ),
      );
    } else if (typeof name === 'string') firstByName.set(name, doc);
    const parsed = playbookSchema.safeParse(doc.value);
    if (!parsed.success) {
      problems.push(...zodProblems(doc, parsed.error));
      continue;
    }
    const found = checkPlaybook(parsed.data, catalog).map((p) => doc.problem(p.path, p.message));
    problems.push(...found);
    if (found.length === 0 && !earlier) playbooks.push({ doc, playbook: parsed.data });
  }
  return { playbooks, problems };
}

/** The `playbook` family for `quench validate` and the loaders, checking actions against `catalog()`. */
export function playbookValidator(catalog: () => ActionCatalog): DefinitionValidator {
  return {
    family: 'playbook',
    claims: claimsPlaybook,
    validate: (docs) => checkPlaybookDocuments(docs, catalog()).problems,
  };
}
