import { execFile, fork } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/db/database.js';
import { assertPostgresDriverPatched } from '../../src/db/driver-patch.js';
import { POSTGRES_BIN, type PrivatePostgres, startPrivatePostgres } from '../support/private-postgres.js';
import { repoRoot } from '../support/quench-process.js';
import { waitFor } from '../support/wait-for.js';

/**
 * The install-time patch of postgres.js (scripts/patch-postgres.mjs, run as `postinstall`) and
 * the defects it fixes. Each defect is reproduced in a child process against the upstream code
 * (the installed package with the patch reverted) and against the installed, patched package.
 */
const run = promisify(execFile);
const installed = join(repoRoot, 'node_modules', 'postgres');
const script = join(repoRoot, 'scripts', 'patch-postgres.mjs');
const probe = join(repoRoot, 'test', 'support', 'postgres-driver-probe.mjs');
const restartProbe = join(repoRoot, 'test', 'support', 'postgres-restart-probe.mjs');

const node = async (args: string[]) => {
  try {
    const { stdout, stderr } = await run(process.execPath, args, { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
};

let workDir: string;
let upstream: string;
beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'quench-pgjs-'));
  upstream = join(workDir, 'upstream');
  cpSync(installed, upstream, { recursive: true });
  const reverted = await node([script, '--revert', upstream]);
  expect(reverted.code, reverted.stderr).toBe(0);
});
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

describe('scripts/patch-postgres.mjs', () => {
  it('the installed postgres.js is patched, and opening PostgreSQL checks it', async () => {
    const check = await node([script, '--check']);
    expect(check.code, check.stderr).toBe(0);
    expect(() => assertPostgresDriverPatched()).not.toThrow();
  });

  it('opening PostgreSQL with an unpatched driver (an install with --ignore-scripts) is refused, saying what to run', () => {
    expect(() => assertPostgresDriverPatched(upstream)).toThrow(/lacks Quench's patch for porsager\/postgres#1154[\s\S]*node scripts\/patch-postgres\.mjs/);
  });

  it('patches the upstream code once (a second run changes nothing) to exactly the installed files', async () => {
    const copy = join(workDir, 'repatch');
    cpSync(upstream, copy, { recursive: true });
    expect((await node([script, '--check', copy])).code).toBe(1);
    const first = await node([script, copy]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/patched \(src\/connection\.js, src\/index\.js, cjs\/src\/connection\.js/);
    const second = await node([script, copy]);
    expect(second.stdout).toMatch(/already patched/);
    for (const file of ['src/connection.js', 'src/index.js', 'cjs/src/connection.js', 'cjs/src/index.js', 'cf/src/connection.js', 'cf/src/index.js'])
      expect(readFileSync(join(copy, file), 'utf8'), file).toBe(readFileSync(join(installed, file), 'utf8'));
  });

  it('fails loudly, naming the upstream issue, when the code it patches changed', async () => {
    const copy = join(workDir, 'changed');
    cpSync(upstream, copy, { recursive: true });
    const file = join(copy, 'cjs', 'src', 'connection.js');
    writeFileSync(file, readFileSync(file, 'utf8').replace('const x = socket.write(chunk, fn)', 'const x = socket?.write(chunk, fn)'));
    const result = await node([script, copy]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cjs/src/connection.js: the code to patch (nextWrite guards a closed socket) was found 0 times');
    expect(result.stderr).toContain('porsager/postgres#1154');
  });
});

describe.skipIf(!POSTGRES_BIN)('postgres.js when the backend dies (private cluster)', () => {
  let pg: PrivatePostgres;
  let url: string;
  beforeAll(async () => {
    pg = await startPrivatePostgres();
    url = pg.url();
  }, 60_000);
  afterAll(async () => {
    await pg?.destroy();
  });

  it('upstream: the next query on a reserved connection whose backend died kills the process (#1208) or never settles', async () => {
    const result = await node([probe, upstream, url, 'reserved']);
    // Usually the close event comes first and the write crashes; when the backend's death arrives
    // as ECONNRESET, the query sent between the 'error' and 'close' events hangs instead.
    if (result.code === 0) expect(JSON.parse(result.stdout)).toEqual({ first: 'ECONNRESET', second: 'hung' });
    else expect(result.stderr).toMatch(/TypeError: Cannot read properties of null \(reading 'write'\)[\s\S]*nextWrite/);
  });

  it('patched: the same queries reject (CONNECTION_CLOSED; ECONNRESET when reset) and the process lives', async () => {
    for (let i = 0; i < 5; i++) {
      const result = await node([probe, installed, url, 'reserved']);
      expect(result.code, result.stderr).toBe(0);
      const outcome = JSON.parse(result.stdout) as { first: string; second: string };
      expect(['CONNECTION_CLOSED', 'ECONNRESET']).toContain(outcome.first);
      expect(outcome.second).toBe('CONNECTION_CLOSED');
    }
  });

  it('upstream: a slot whose connection closed with a write pending never connects again (CONNECT_TIMEOUT)', async () => {
    const result = await node([probe, upstream, url, 'poison']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ cut: 'CONNECTION_CLOSED', after: 'CONNECT_TIMEOUT' });
  });

  it('patched: the slot reconnects and serves the next query', async () => {
    const result = await node([probe, installed, url, 'poison']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ cut: 'CONNECTION_CLOSED', after: 'ok' });
  });

  it('upstream: a transaction whose connection died commits its later statements on the reconnected one (#1216)', async () => {
    const result = await node([probe, upstream, url, 'transaction']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ reconnected: 'ok', transaction: 'CONNECTION_CLOSED', leakedRows: 2 });
  });

  it('patched: the dead transaction writes nothing; the pool serves other queries', async () => {
    const result = await node([probe, installed, url, 'transaction']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ reconnected: 'ok', transaction: 'CONNECTION_CLOSED', leakedRows: 0 });
  });

  /**
   * Runs test/support/postgres-restart-probe.mjs: it drives the driver through a proxy and asks
   * this process to stop and start the cluster at the exact point the scenario names.
   */
  const restartAt = (pkg: string, scenario: 'ready-then-fatal' | 'types-in-flight' | 'fatal-in-flight') =>
    new Promise<{ cut: string; after: string; unhandled: string[] }>((resolve, reject) => {
      const child = fork(restartProbe, [pkg, String(pg.port), scenario], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], execArgv: [] });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d) => (stdout += d));
      child.stderr!.on('data', (d) => (stderr += d));
      let stopped = false;
      child.on('message', (m: { id: number; what: 'stop-fast' | 'stop-immediate' | 'start' }) => {
        const done =
          m.what === 'start' ? pg.start().then(() => (stopped = false)) : pg.stop(m.what === 'stop-fast' ? 'fast' : 'immediate').then(() => (stopped = true));
        void done.then(() => child.send({ id: m.id }), reject);
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        // Leave the cluster running for the next test whatever happened.
        void (stopped ? pg.start() : Promise.resolve()).then(() => {
          if (code === 0) resolve(JSON.parse(stdout));
          else reject(new Error(`restart probe (${scenario}) exited with ${code}:\n${stdout}${stderr}`));
        }, reject);
      });
    });

  // A pool reconnects lazily, so a query arriving during a restart opens a connection that is
  // still fetching its array types when the server goes: one of `quench serve`'s "unhandled
  // promise rejection" logs in the engine's chaos test (engine-chaos.test.ts).
  it('upstream: a restart during a new connection\'s array-types fetch leaves a rejection nobody handles', async () => {
    // Fast: the backend's FATAL 57P01 comes with its first ReadyForQuery; the socket closes
    // while the types query is in flight.
    expect(await restartAt(upstream, 'ready-then-fatal')).toEqual({
      cut: '57P01',
      after: 'ok',
      unhandled: ['CONNECTION_CLOSED: write CONNECTION_CLOSED'],
    });
    // Immediate: the types query dies in flight and the reconnect is refused.
    expect(await restartAt(upstream, 'types-in-flight')).toEqual({
      cut: 'ECONNREFUSED',
      after: 'ok',
      unhandled: ['ECONNREFUSED: connect ECONNREFUSED'],
    });
  }, 120_000);

  it('patched: the query that opened the connection gets the error, nothing is left unhandled, the pool reconnects', async () => {
    expect(await restartAt(installed, 'ready-then-fatal')).toEqual({ cut: '57P01', after: 'ok', unhandled: [] });
    expect(await restartAt(installed, 'types-in-flight')).toEqual({ cut: 'ECONNREFUSED', after: 'ok', unhandled: [] });
  }, 120_000);

  it('upstream: after a fast restart, a slot that had a query in flight fails its next query with the old session\'s FATAL', async () => {
    expect(await restartAt(upstream, 'fatal-in-flight')).toEqual({ cut: 'CONNECTION_CLOSED', after: '57P01', unhandled: [] });
  }, 60_000);

  it('patched: the query in flight gets CONNECTION_CLOSED, the next one runs on the new session', async () => {
    expect(await restartAt(installed, 'fatal-in-flight')).toEqual({ cut: 'CONNECTION_CLOSED', after: 'ok', unhandled: [] });
  }, 60_000);

  it('LISTEN resumes by itself after a restart and after a 5 s outage', async () => {
    const db: Database = await openDatabase({ url, poolMax: 2 });
    try {
      const heard: string[] = [];
      await db.listen('quench_probe', (payload) => heard.push(payload));
      const hears = async (payload: string) => {
        await waitFor(
          `NOTIFY ${payload} to arrive`,
          async () => {
            await db.notify('quench_probe', payload).catch(() => {});
            return heard.includes(payload);
          },
          30_000,
          250,
        );
      };
      await hears('before');
      await pg.restart('fast');
      await hears('after-restart');
      await pg.stop('fast');
      await new Promise((r) => setTimeout(r, 5_000));
      await pg.start();
      await hears('after-outage');
    } finally {
      await db.close();
    }
  }, 90_000);
});
