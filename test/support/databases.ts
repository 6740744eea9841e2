import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { inject } from 'vitest';
import { type Database, openDatabase } from '../../src/db/database.js';

/**
 * Database tests run on PGlite always and on real PostgreSQL when TEST_DATABASE_URL is set
 * (CI sets it). Each test gets its own database: a fresh in-memory PGlite, or a new PostgreSQL
 * database created for it and dropped afterwards.
 */
export type DatabaseKind = 'pglite' | 'postgres';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || undefined;

export const databaseKinds: DatabaseKind[] = TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

export interface TestDatabase {
  db: Database;
  /** PostgreSQL only: the URL of this test's own database (for child processes). */
  url: string | undefined;
  dispose(): Promise<void>;
}

/** Creates an empty PostgreSQL database and returns its URL, with a function that drops it. */
export async function createPostgresDatabase(prefix = 'quench_test'): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!TEST_DATABASE_URL) throw new Error('TEST_DATABASE_URL is not set');
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const again = postgres(TEST_DATABASE_URL!, { max: 1, onnotice: () => {} });
      await again.unsafe(`drop database if exists ${name} with (force)`);
      await again.end();
    },
  };
}

/** A migrated database of the given kind. */
export async function freshDatabase(kind: DatabaseKind, options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const migrate = options.migrate ?? true;
  if (kind === 'pglite') {
    const db = await openDatabase({ dataDir: 'memory://', pgliteSnapshot: migrate ? pgliteSnapshot() : undefined });
    if (migrate) await db.migrate();
    return { db, url: undefined, dispose: () => db.close() };
  }
  const { url, drop } = await createPostgresDatabase();
  const db = await openDatabase({ url, poolMax: 20 });
  if (migrate) await db.migrate();
  return {
    db,
    url,
    dispose: async () => {
      await db.close();
      await drop();
    },
  };
}

let snapshot: Blob | undefined;
/** The migrated template made by global-setup.ts, read once per test file. */
function pgliteSnapshot(): Blob {
  snapshot ??= new Blob([readFileSync(inject('pgliteSnapshotPath'))]);
  return snapshot;
}

/**
 * For tests that run `quench serve` processes on PostgreSQL: a fresh database, a client on it
 * and a playbook directory holding `playbook` as `<file>`, each undone by `cleanup` (run in
 * reverse by the caller's afterAll).
 */
export async function servedPostgres(
  prefix: string,
  file: string,
  playbook: string,
  cleanup: Array<() => Promise<void> | void>,
): Promise<{ url: string; sql: postgres.Sql; dir: string }> {
  const { url, drop } = await createPostgresDatabase(prefix);
  cleanup.push(drop);
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  cleanup.push(() => sql.end());
  const dir = mkdtempSync(join(tmpdir(), `${prefix.replaceAll('_', '-')}-`));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, file), playbook);
  return { url, sql, dir };
}
