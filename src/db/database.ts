import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { type SQL, sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { QuenchError } from '../core/errors.js';
import { acquireDataDirLock } from './data-dir-lock.js';
import { assertPostgresDriverPatched } from './driver-patch.js';
import { applyMigrations, migrationCount } from './migrate.js';
import { retryingStalePlans, withPreparedStatements } from './prepared.js';
import { resultRows } from './rows.js';
import * as schema from './schema.js';

/**
 * The one storage port. Everything above this file talks to `Database`; only this folder
 * knows whether PGlite (embedded, one connection) or PostgreSQL (postgres.js pool) is in use.
 */
export type Orm = PgDatabase<PgQueryResultHKT, typeof schema>;
export type Tx = Parameters<Parameters<Orm['transaction']>[0]>[0];
export type Executor = Orm | Tx;

export interface Database {
  readonly kind: 'pglite' | 'postgres';
  readonly orm: Orm;
  /** Runs raw SQL and returns its rows, whichever driver answers. */
  rows<T = Record<string, unknown>>(query: SQL, executor?: Executor): Promise<T[]>;
  /** Subscribes to NOTIFY on a channel; returns the unsubscribe function. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  notify(channel: string, payload: string, executor?: Executor): Promise<void>;
  /** Applies pending migrations; safe to call from several processes at once. */
  migrate(): Promise<{ applied: number }>;
  /** Whether the database answers and every migration in migrations/ is applied. */
  readiness(): Promise<{ ok: boolean; reason?: string }>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** postgres:// URL; when absent, PGlite is used. */
  url?: string | undefined;
  /** Folder for PGlite's files, or 'memory://' for a throwaway database. */
  dataDir?: string;
  poolMax?: number;
  /** PGlite only: start from this data-dir dump (`PGlite.dumpDataDir`) instead of an empty cluster. */
  pgliteSnapshot?: Blob;
  /** PostgreSQL only: `migrate()` connects with this URL (the schema owner), the service with `url`. */
  migrationUrl?: string | undefined;
  /** PostgreSQL only: run queries as prepared statements (default; `DATABASE_PREPARE`, prepared.ts). */
  prepare?: boolean;
}

export async function openDatabase(options: OpenOptions): Promise<Database> {
  if (options.migrationUrl && !options.url) {
    throw new QuenchError('config_invalid', 'QUENCH_MIGRATION_DATABASE_URL is set without DATABASE_URL: set DATABASE_URL to the service role');
  }
  return options.url
    ? openPostgres(options.url, options.poolMax ?? 10, options.migrationUrl, options.prepare ?? true)
    : openPglite(options.dataDir ?? './.quench', options.pgliteSnapshot);
}

async function openPostgres(url: string, poolMax: number, migrationUrl: string | undefined, prepare: boolean): Promise<Database> {
  assertPostgresDriverPatched();
  const client = postgres(url, { max: poolMax, onnotice: () => {}, connect_timeout: 10, prepare });
  try {
    await client`select 1`;
  } catch (err) {
    await client.end({ timeout: 1 }).catch(() => {});
    throw new QuenchError('database_unavailable', `cannot connect to DATABASE_URL: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const orm = retryingStalePlans(drizzlePostgres(prepare ? withPreparedStatements(client) : client, { schema })) as unknown as Orm;
  return makeDatabase('postgres', orm, {
    listen: async (channel, onPayload) => {
      const sub = await client.listen(channel, onPayload);
      return () => sub.unlisten();
    },
    migrate: () => applyMigrations({ kind: 'postgres', url: migrationUrl ?? url }),
    close: () => client.end({ timeout: 5 }),
  });
}

async function openPglite(dataDir: string, snapshot?: Blob): Promise<Database> {
  let release = async () => {};
  let location: string | undefined;
  if (dataDir !== 'memory://') {
    mkdirSync(dataDir, { recursive: true });
    // PGlite's files must never be opened by two processes: that corrupts them.
    release = acquireDataDirLock(dataDir);
    location = join(dataDir, 'pgdata');
  }
  // A snapshot is dumped from an in-memory cluster, so it only seeds in-memory databases.
  if (snapshot && location) throw new QuenchError('database_unavailable', 'a PGlite snapshot can only seed an in-memory database');
  let pg: PGlite;
  try {
    pg = new PGlite(location, snapshot ? { loadDataDir: snapshot } : {});
    await pg.waitReady;
  } catch (err) {
    await release();
    throw new QuenchError('database_unavailable', `cannot open the embedded database in ${dataDir}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const orm = drizzlePglite(pg, { schema }) as unknown as Orm;
  return makeDatabase('pglite', orm, {
    listen: async (channel, onPayload) => pg.listen(channel, onPayload),
    migrate: () => applyMigrations({ kind: 'pglite', orm }),
    close: async () => {
      await pg.close();
      await release();
    },
  });
}

interface DriverParts {
  listen: Database['listen'];
  migrate: Database['migrate'];
  close: () => Promise<void>;
}

function makeDatabase(kind: Database['kind'], orm: Orm, parts: DriverParts): Database {
  const rows = async <T>(query: SQL, executor: Executor = orm) => resultRows<T>(await executor.execute(query));
  return {
    kind,
    orm,
    rows,
    listen: parts.listen,
    notify: async (channel, payload, executor = orm) => {
      await executor.execute(sql`select pg_notify(${channel}, ${payload})`);
    },
    migrate: parts.migrate,
    readiness: async () => {
      try {
        await rows(sql`select 1`);
      } catch (err) {
        return { ok: false, reason: `database unreachable: ${(err as Error).message}` };
      }
      const { pending } = await pendingMigrations(rows);
      return pending === 0 ? { ok: true } : { ok: false, reason: `${pending} migration(s) not applied` };
    },
    close: parts.close,
  };
}

async function pendingMigrations(rows: (q: SQL) => Promise<Array<Record<string, unknown>>>): Promise<{ pending: number }> {
  const expected = migrationCount();
  try {
    const [row] = await rows(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
    return { pending: Math.max(0, expected - Number(row?.n ?? 0)) };
  } catch {
    return { pending: expected };
  }
}
