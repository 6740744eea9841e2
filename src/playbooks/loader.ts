import { createHash } from 'node:crypto';
import { canonicalJson } from '../audit/core/entry.js';
import { QuenchError } from '../core/errors.js';
import type { Problem } from '../definitions/problem.js';
import { formatProblem, hasErrors } from '../definitions/problem.js';
import { guardedCheck } from '../definitions/guard.js';
import { listYamlFiles, readYamlFile } from '../definitions/source.js';
import type { ActionCatalog } from './core/catalog.js';
import { type Playbook, playbookSchema } from './core/playbook-schema.js';
import { checkPlaybook } from './core/validate.js';
import { checkPlaybookDocuments, claimsPlaybook } from './validator.js';

/**
 * Loading playbooks from QUENCH_PLAYBOOK_DIR. Each valid playbook gets a content hash: SHA-256
 * of the canonical JSON of the parsed definition (defaults applied), so formatting and comments
 * do not change it and a changed default does. A run records the hash and the definition
 * snapshot it started with; editing a file never changes a running run.
 */

export interface LoadedPlaybook {
  name: string;
  /** `sha256:<hex>` of the canonical definition. */
  hash: string;
  file: string;
  definition: Playbook;
}

export interface LoadResult {
  playbooks: LoadedPlaybook[];
  /** Every problem, warnings included; playbooks with errors are left out of `playbooks`. */
  problems: Problem[];
}

export function playbookHash(definition: Playbook): string {
  return `sha256:${createHash('sha256').update(canonicalJson(definition)).digest('hex')}`;
}

/** Reads and validates every playbook under `paths`; documents of other kinds are ignored. */
export function loadPlaybooks(paths: string[], catalog: ActionCatalog): LoadResult {
  const files = listYamlFiles(paths).map(readYamlFile);
  const docs = files.flatMap((f) => f.documents).filter(claimsPlaybook);
  const {
    result: { playbooks, problems },
    problems: crashes,
  } = guardedCheck(docs, (some) => checkPlaybookDocuments(some, catalog));
  return {
    playbooks: playbooks.map(({ doc, playbook }) => ({
      name: playbook.metadata.name,
      hash: playbookHash(playbook),
      file: doc.file,
      definition: playbook,
    })),
    problems: [...files.flatMap((f) => f.problems), ...crashes, ...problems],
  };
}

/** Like `loadPlaybooks`, but any error stops with one QuenchError listing every problem (for start-up). */
export function loadPlaybooksStrict(paths: string[], catalog: ActionCatalog): LoadedPlaybook[] {
  const { playbooks, problems } = loadPlaybooks(paths, catalog);
  if (hasErrors(problems)) {
    const errors = problems.filter((p) => p.severity === 'error');
    throw new QuenchError(
      'validation_failed',
      `invalid playbooks (run 'quench validate' for details):\n${errors.map(formatProblem).join('\n')}`,
      {
        details: { problems: errors },
      },
    );
  }
  return playbooks;
}

/**
 * Re-reads a definition a run persisted. The snapshot is parsed again (a parsed playbook
 * re-parses to itself) and its hash compared, so a snapshot that was altered, or that a newer
 * schema reads differently, is refused instead of silently running something else.
 */
export function restoreSnapshot(snapshot: unknown, expectedHash: string, catalog?: ActionCatalog): LoadedPlaybook {
  const parsed = playbookSchema.safeParse(snapshot);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new QuenchError('validation_failed', `stored playbook snapshot no longer parses: ${first?.path.join('.')}: ${first?.message}`);
  }
  const hash = playbookHash(parsed.data);
  if (hash !== expectedHash) {
    throw new QuenchError(
      'conflict',
      `stored playbook snapshot of '${parsed.data.metadata.name}' hashes to ${hash}, not the ${expectedHash} the run was pinned to`,
    );
  }
  if (catalog) {
    const problems = checkPlaybook(parsed.data, catalog);
    if (problems.length > 0)
      throw new QuenchError('validation_failed', `stored playbook snapshot is no longer valid: ${problems[0]!.message}`);
  }
  return { name: parsed.data.metadata.name, hash, file: '(snapshot)', definition: parsed.data };
}
