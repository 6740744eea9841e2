import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { QuenchError } from '../core/errors.js';
import type { Orm } from './database.js';
import { resultRows } from './rows.js';

// src/db/ and dist/db/ both sit two levels below the package root.
export const migrationsFolder = fileURLToPath(new URL('../../migrations', import.meta.url));

/** Arbitrary constant: the advisory lock key every Quench process takes to migrate. */
const MIGRATION_LOCK_KEY = 7_262_617_312n;

export function migrationCount(): number {
  const journal = JSON.parse(readFileSync(`${migrationsFolder}/meta/_journal.json`, 'utf8')) as {
    entries: unknown[];
  };
  return journal.entries.length;
}

type Target = { kind: 'pglite'; orm: Orm } | { kind: 'postgres'; url: string };

/**
 * drizzle's migrator takes no lock, so two replicas starting together would both run the same
 * migration. On PostgreSQL we serialise them with a session advisory lock held on one dedicated
 * connection: the second replica waits, then finds nothing left to apply. PGlite is
 * single-process (guarded by the data-dir lock), so it needs none.
 */
export async function applyMigrations(target: Target): Promise<{ applied: number }> {
  try {
    if (target.kind === 'pglite') {
      const before = await appliedCount(target.orm);
      await migratePglite(target.orm as never, { migrationsFolder });
      return { applied: (await appliedCount(target.orm)) - before };
    }
    const client = postgres(target.url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
    try {
      const orm = drizzlePostgres(client) as unknown as Orm;
      // Nothing to apply: touch nothing. drizzle's migrator would still run CREATE SCHEMA/TABLE IF
      // NOT EXISTS, which a service role without CREATE (docs/database-roles.md) may not run.
      if ((await appliedCount(orm)) >= migrationCount()) return { applied: 0 };
      await client`select pg_advisory_lock(${MIGRATION_LOCK_KEY.toString()}::bigint)`;
      try {
        const before = await appliedCount(orm);
        await migratePostgres(orm as never, { migrationsFolder });
        return { applied: (await appliedCount(orm)) - before };
      } finally {
        await client`select pg_advisory_unlock(${MIGRATION_LOCK_KEY.toString()}::bigint)`;
      }
    } finally {
      await client.end({ timeout: 5 });
    }
  } catch (err) {
    if (err instanceof QuenchError) throw err;
    const cause = (err as { cause?: { message?: string; code?: string } }).cause;
    const code = cause?.code ?? (err as { code?: string }).code;
    // 42501 insufficient_privilege: most likely a service role that is not the schema owner.
    const hint =
      code === '42501'
        ? '; this role may not change the schema: apply migrations as the owner role first (`quench migrate` with QUENCH_MIGRATION_DATABASE_URL, docs/database-roles.md)'
        : '';
    throw new QuenchError('migration_failed', `migrations failed: ${cause?.message ?? (err as Error).message}${hint}`, {
      cause: err,
    });
  }
}

async function appliedCount(orm: Orm): Promise<number> {
  try {
    const result = await orm.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
    return Number(resultRows<{ n: number }>(result)[0]?.n ?? 0);
  } catch {
    return 0;
  }
}
