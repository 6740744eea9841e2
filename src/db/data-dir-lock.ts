import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { QuenchError } from '../core/errors.js';

/**
 * A pid file guarding the embedded database folder. PGlite has no multi-process locking of its
 * own, and a second process writing the same files corrupts them; a stale file (dead pid) is
 * taken over.
 */
export function acquireDataDirLock(dataDir: string): () => Promise<void> {
  const path = join(dataDir, 'quench.pid');
  const holder = readHolder(path);
  if (holder !== undefined && holder !== process.pid && isAlive(holder)) {
    throw new QuenchError(
      'data_dir_locked',
      `the embedded database in ${dataDir} is in use by process ${holder}; stop it, or set QUENCH_DATA_DIR to another folder (or DATABASE_URL for PostgreSQL, which several processes can share)`,
    );
  }
  writeFileSync(path, String(process.pid));
  return async () => {
    if (readHolder(path) === process.pid) rmSync(path, { force: true });
  };
}

function readHolder(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isFinite(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
