import type { LoadedPlaybook } from './loader.js';

/**
 * The playbooks a service knows: the current version of each name (what new runs start with)
 * and every version seen since start, by (name, hash), for runs pinned to an older one. The
 * engine also persists each run's definition snapshot, so a run survives a restart after its
 * file changed (see `restoreSnapshot`); the store is the fast path and the diff for auditing.
 */
export interface PlaybookChange {
  name: string;
  change: 'added' | 'changed' | 'removed';
  hash?: string;
  previousHash?: string;
  file?: string;
}

export class PlaybookStore {
  readonly #current = new Map<string, LoadedPlaybook>();
  readonly #versions = new Map<string, LoadedPlaybook>();

  constructor(initial: LoadedPlaybook[] = []) {
    this.replace(initial);
  }

  /** Makes `playbooks` the current set; returns what changed, for the audit trail. */
  replace(playbooks: LoadedPlaybook[]): PlaybookChange[] {
    const changes: PlaybookChange[] = [];
    const next = new Map(playbooks.map((p) => [p.name, p]));
    for (const [name, old] of this.#current) {
      if (!next.has(name)) changes.push({ name, change: 'removed', previousHash: old.hash, file: old.file });
    }
    for (const p of playbooks) {
      const old = this.#current.get(p.name);
      if (!old) changes.push({ name: p.name, change: 'added', hash: p.hash, file: p.file });
      else if (old.hash !== p.hash) changes.push({ name: p.name, change: 'changed', hash: p.hash, previousHash: old.hash, file: p.file });
      this.#versions.set(key(p.name, p.hash), p);
    }
    this.#current.clear();
    for (const [name, p] of next) this.#current.set(name, p);
    return changes;
  }

  /** The version new runs of `name` start with. */
  current(name: string): LoadedPlaybook | undefined {
    return this.#current.get(name);
  }

  /** A specific version: current, or seen earlier in this process. */
  version(name: string, hash: string): LoadedPlaybook | undefined {
    return this.#versions.get(key(name, hash));
  }

  /** Adds a version restored from a run snapshot without making it current. */
  remember(playbook: LoadedPlaybook): void {
    this.#versions.set(key(playbook.name, playbook.hash), playbook);
  }

  list(): LoadedPlaybook[] {
    return [...this.#current.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
}

const key = (name: string, hash: string) => `${name}\u0000${hash}`;
