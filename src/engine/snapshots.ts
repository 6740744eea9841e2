import { QuenchError } from '../core/errors.js';
import type { Playbook } from '../playbooks/core/model.js';
import { restoreSnapshot } from '../playbooks/loader.js';
import type { RunRow } from './model.js';

/**
 * The definition a run is pinned to, verified: the stored snapshot is re-parsed and its
 * content hash compared with the one recorded at start, so an altered snapshot (or one a newer
 * schema reads differently) is refused instead of silently running something else. Every read
 * of a run that acts on its definition goes through here (sql/load.ts `lockRun`): the executor,
 * transitions, decisions, signals, re-drives.
 *
 * Verified definitions are cached by hash together with the stored text they came from: a
 * process sees a handful of playbook versions, and a snapshot altered in place (same recorded
 * hash, different text) misses the cache and is refused like on a fresh process.
 */
const verified = new Map<string, { stored: string; definition: Playbook }>();
const LIMIT = 500;

export function pinnedDefinition(run: Pick<RunRow, 'definition' | 'playbookHash'>): Playbook {
  const stored = JSON.stringify(run.definition);
  const hit = verified.get(run.playbookHash);
  if (hit && hit.stored === stored) return hit.definition;
  let definition: Playbook;
  try {
    definition = restoreSnapshot(run.definition, run.playbookHash).definition;
  } catch (err) {
    throw new SnapshotError(`${(err as Error).message}; the run is refused rather than run something it was not started with`, err);
  }
  if (verified.size >= LIMIT) verified.delete(verified.keys().next().value as string);
  verified.set(run.playbookHash, { stored, definition });
  return definition;
}

/** An altered or unreadable snapshot: `conflict`, so an API caller gets 409 with the reason. */
export class SnapshotError extends QuenchError {
  constructor(message: string, cause: unknown) {
    super('conflict', message, { cause });
    this.name = 'SnapshotError';
  }
}
