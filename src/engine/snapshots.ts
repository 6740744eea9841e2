import type { Playbook } from '../playbooks/core/model.js';
import { restoreSnapshot } from '../playbooks/loader.js';
import type { RunRow } from './model.js';

/**
 * The definition a run is pinned to, verified: the stored snapshot is re-parsed and its
 * content hash compared with the one recorded at start, so an altered snapshot (or one a newer
 * schema reads differently) is refused instead of silently running something else. Verified
 * definitions are cached by hash: a process sees a handful of playbook versions.
 */
const verified = new Map<string, Playbook>();
const LIMIT = 500;

export function pinnedDefinition(run: RunRow): Playbook {
  const hit = verified.get(run.playbookHash);
  if (hit) return hit;
  const { definition } = restoreSnapshot(run.definition, run.playbookHash);
  if (verified.size >= LIMIT) verified.delete(verified.keys().next().value as string);
  verified.set(run.playbookHash, definition);
  return definition;
}
