import type { Problem } from '../definitions/problem.js';
import { z } from 'zod';
import { type SourceDocument, zodProblems } from '../definitions/source.js';
import type { DefinitionValidator } from '../definitions/validators.js';
import type { ActionCatalog } from './core/catalog.js';
import { API_VERSION, KIND, type Playbook, playbookSchema } from './core/playbook-schema.js';
import { closest } from './core/graph.js';
import { checkPlaybook, checkUnparsedPlaybook } from './core/validate.js';

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
      problems.push(...schemaProblems(doc, parsed.error));
      // What else is wrong with it, on the parts that do parse: one pass reports it all.
      problems.push(...checkUnparsedPlaybook(doc.value, catalog).map((p) => doc.problem(p.path, p.message)));
      continue;
    }
    const found = checkPlaybook(parsed.data, catalog).map((p) => doc.problem(p.path, p.message));
    problems.push(...found);
    if (found.length === 0 && !earlier) playbooks.push({ doc, playbook: parsed.data });
  }
  return { playbooks, problems };
}

/**
 * zod's problems at their fields; an unknown field (usually a typo) is reported at the field
 * itself rather than at the mapping that holds it.
 */
function schemaProblems(doc: SourceDocument, error: z.ZodError): Problem[] {
  const out: Problem[] = [];
  for (const issue of error.issues) {
    if (issue.code !== 'unrecognized_keys') {
      out.push(...zodProblems(doc, new z.ZodError([issue])));
      continue;
    }
    for (const key of issue.keys) {
      const path = [...issue.path, key];
      const hint = closest(key, fieldNames());
      out.push(doc.problem(path, `${path.map(String).join('.')}: unknown field '${key}'${hint ? ` (did you mean '${hint}'?)` : ''}`));
    }
  }
  return out;
}

let names: string[] | undefined;
/** Every field name the format knows, for "did you mean" (walks the schema once; steps are recursive). */
function fieldNames(): string[] {
  if (names) return names;
  const seen = new Set<unknown>();
  const found = new Set<string>();
  const walk = (schema: unknown): void => {
    if (!schema || typeof schema !== 'object' || seen.has(schema)) return;
    seen.add(schema);
    const def = (schema as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (!def) return;
    if (def.type === 'object') {
      for (const [key, field] of Object.entries((schema as z.ZodObject).shape)) {
        found.add(key);
        walk(field);
      }
    }
    for (const inner of ['innerType', 'element', 'in', 'out', 'valueType']) walk(def[inner]);
    for (const option of (def.options as unknown[] | undefined) ?? []) walk(option);
  };
  walk(playbookSchema);
  names = [...found].sort();
  return names;
}

/** The `playbook` family for `quench validate` and the loaders, checking actions against `catalog()`. */
export function playbookValidator(catalog: () => ActionCatalog): DefinitionValidator {
  return {
    family: 'playbook',
    claims: claimsPlaybook,
    validate: (docs) => checkPlaybookDocuments(docs, catalog()).problems,
  };
}
