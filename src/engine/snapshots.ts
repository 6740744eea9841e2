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

/**
 * The hot path's definition cache: verified definitions by the run's recorded hash **and** a
 * digest PostgreSQL computes over the stored snapshot (`md5(definition::text)`; jsonb's text is
 * canonical), so the definition JSON is neither shipped nor parsed per step, yet a snapshot
 * altered in place (same recorded hash, different content) changes the digest, misses the
 * cache and is verified (and refused) like on a fresh process. A playbook edit is a new
 * version with a new hash: runs stay on the definition they were started with.
 */
const byDigest = new Map<string, Playbook>();

/** The cached verified definition for a recorded hash and stored-snapshot digest, if any. */
export function cachedDefinition(playbookHash: string, digest: string): Playbook | undefined {
  return byDigest.get(`${playbookHash}:${digest}`);
}

/**
 * Verifies a stored snapshot (as `pinnedDefinition`) and caches it under the digest that was
 * read in the same row as it: a digest from an earlier read could belong to other content.
 */
export function verifyAndCache(playbookHash: string, digest: string, stored: unknown): Playbook {
  const definition = pinnedDefinition({ definition: stored as Playbook, playbookHash });
  if (byDigest.size >= LIMIT) byDigest.delete(byDigest.keys().next().value as string);
  byDigest.set(`${playbookHash}:${digest}`, definition);
  return definition;
}

/** An altered or unreadable snapshot: `conflict`, so an API caller gets 409 with the reason. */
export class SnapshotError extends QuenchError {
  constructor(message: string, cause: unknown) {
    super('conflict', message, { cause });
    this.name = 'SnapshotError';
  }
}
