import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { freePort } from './quench-process.js';

const run = promisify(execFile);

/**
 * A throwaway PostgreSQL cluster of the test's own: `initdb` in a temporary folder, its own
 * port on 127.0.0.1, and its own socket folder. Tests that stop, restart or kill PostgreSQL use
 * it, never the shared server on 5432 (other engineers' tests run against that one).
 *
 * initdb and postgres refuse to run as root, so when the tests run as root the binaries run
 * as the `postgres` system user (the folder is handed to it).
 */
export interface PrivatePostgres {
  readonly port: number;
  readonly dataDir: string;
  /** postgres:// URL of a database on this cluster (default `postgres`). */
  url(database?: string): string;
  createDatabase(name: string): Promise<string>;
  /** `pg_ctl stop -m <mode>`: `fast` disconnects every client (what `pg_ctlcluster … restart -m fast` does first). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  restart(mode?: 'fast' | 'immediate'): Promise<void>;
  /**
   * SIGSTOPs the server and every backend: connections stay open but nothing answers, as in a
   * network partition or a hung host (a stop refuses connections at once instead). `thaw` resumes.
   */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /** The server log so far (for failure messages). */
  log(): string;
  /** Stops the server and deletes the folder. */
  destroy(): Promise<void>;
}

export const POSTGRES_BIN = findPostgresBin();

function findPostgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

export async function startPrivatePostgres(options: { settings?: Record<string, string> } = {}): Promise<PrivatePostgres> {
  const bin = POSTGRES_BIN;
  if (!bin) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql/*/bin');
  const root = mkdtempSync(join(tmpdir(), 'quench-private-pg-'));
  const dataDir = join(root, 'data');
  const logFile = join(root, 'server.log');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(root, Number(stdout.trim()), Number(gid.trim()));
    chmodSync(root, 0o700);
  }
  const exec = (tool: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]) : run(join(bin, tool), args);

  await exec('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const port = await freePort();
  // Durability off: the cluster is disposable, and a restart with `-m fast` still checkpoints.
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    port: String(port),
    unix_socket_directories: root,
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    max_connections: '200',
    ...options.settings,
  };
  const serverOptions = Object.entries(settings)
    .map(([k, v]) => `-c ${k}=${v}`)
    .join(' ');
  const start = async () => {
    await exec('pg_ctl', ['-D', dataDir, '-l', logFile, '-o', serverOptions, '-w', '-t', '60', 'start']);
  };
  const stop = async (mode: 'fast' | 'immediate' = 'fast') => {
    await exec('pg_ctl', ['-D', dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
  };
  await start();

  let frozen: string[] = [];
  const signalAll = async (signal: 'STOP' | 'CONT', pids: string[]) => {
    if (pids.length > 0) await run('kill', [`-${signal}`, ...pids]);
  };

  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  let destroyed = false;
  return {
    port,
    dataDir,
    url,
    async createDatabase(name) {
      const admin = postgres(url(), { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`create database "${name.replace(/"/g, '""')}"`);
      } finally {
        await admin.end();
      }
      return url(name);
    },
    stop,
    start,
    async restart(mode = 'fast') {
      await stop(mode);
      await start();
    },
    async freeze() {
      const postmaster = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]!.trim();
      // The postmaster first, so it forks no new backend meanwhile.
      await signalAll('STOP', [postmaster]);
      const { stdout } = await run('pgrep', ['-P', postmaster]).catch(() => ({ stdout: '' }));
      frozen = [postmaster, ...stdout.split('\n').filter(Boolean)];
      await signalAll('STOP', frozen.slice(1));
    },
    async thaw() {
      await signalAll('CONT', frozen);
      frozen = [];
    },
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await signalAll('CONT', frozen).catch(() => {});
      await stop('immediate').catch(() => {});
      rmSync(root, { recursive: true, force: true });
    },
  };
}
