import { execFile } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditTrail } from '../../src/audit/trail.js';
import { systemClock } from '../../src/core/clock.js';
import { openDatabase } from '../../src/db/database.js';
import { migrationCount } from '../../src/db/migrate.js';
import { createPostgresDatabase, TEST_DATABASE_URL } from '../support/databases.js';
import { childEnv, repoRoot, runCli, type ServeProcess, startServe } from '../support/quench-process.js';

// The real CLI as a child process: start-up checks, shutdown, replicas and `audit verify`.
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

const emptyDirs = () => {
  const dir = mkdtempSync(join(tmpdir(), 'quench-serve-'));
  return { QUENCH_DATA_DIR: join(dir, 'data'), QUENCH_SLO_DIR: join(dir, 'slo'), QUENCH_PLAYBOOK_DIR: join(dir, 'playbooks') };
};

function track(p: ServeProcess): ServeProcess {
  cleanups.push(() => p.kill('SIGKILL'));
  return p;
}

describe('quench CLI', () => {
  it('prints help listing the commands, and refuses unknown ones', async () => {
    const help = await runCli(['--help'], childEnv({}));
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/serve/);
    expect(help.stdout).toMatch(/audit verify/);
    const unknown = await runCli(['frobnicate'], childEnv({}));
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);
  });

  it('runs when reached through a symlink, as npm links bins', async () => {
    const link = join(mkdtempSync(join(tmpdir(), 'quench-bin-')), 'quench');
    symlinkSync(join(repoRoot, 'bin', 'quench.js'), link);
    const result = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      execFile(link, ['--version'], { env: childEnv({}) }, (err, stdout) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout }));
    });
    expect(result).toEqual({ code: 0, stdout: 'quench 0.1.0\n' });
  });

  it('stops start-up on a bad PORT or a malformed DATABASE_URL, naming the variable and hiding the secret', async () => {
    const result = await runCli(['serve'], childEnv({ ...emptyDirs(), PORT: '99999', DATABASE_URL: 'mysql://admin:hunter2@db/prod' }));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/PORT: /);
    expect(result.stderr).toMatch(/DATABASE_URL: expected postgres:\/\//);
    expect(result.stderr + result.stdout).not.toMatch(/hunter2/);
  });

  it('serves on the embedded database and exits 0 on SIGTERM within 10 seconds', async () => {
    const serve = track(await startServe(childEnv(emptyDirs())));
    expect((await fetch(`${serve.url}/readyz`)).status).toBe(200);
    const started = Date.now();
    serve.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(serve.output()).toMatch(/"msg":"stopped"/);
  });

  it('refuses a second process on the same embedded database folder', async () => {
    const dirs = emptyDirs();
    track(await startServe(childEnv(dirs)));
    const second = await runCli(['migrate'], childEnv(dirs));
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/in use by process \d+/);
  });
});

describe.skipIf(!TEST_DATABASE_URL)('quench on PostgreSQL', () => {
  it('two replicas starting at once on an empty database both come up, migrations applied once', async () => {
    const { url, drop } = await createPostgresDatabase();
    cleanups.push(drop);
    const env = childEnv({ ...emptyDirs(), DATABASE_URL: url });
    const [a, b] = await Promise.all([startServe(env), startServe(env)]);
    track(a);
    track(b);
    for (const s of [a, b]) expect((await fetch(`${s.url}/readyz`)).status).toBe(200);
    const applied = [a, b].filter((s) => /"msg":"migrations applied"/.test(s.output()));
    expect(applied).toHaveLength(1);
    const sql = postgres(url, { max: 1 });
    const [row] = await sql`select count(*)::int as n from drizzle.__drizzle_migrations`;
    await sql.end();
    expect(row?.n).toBe(migrationCount());
    a.kill('SIGTERM');
    b.kill('SIGTERM');
    expect(await Promise.all([a.exited, b.exited])).toEqual([0, 0]);
  });

  it('audit verify exits 0 on an intact chain and 1 naming a row altered behind the trigger', async () => {
    const { url, drop } = await createPostgresDatabase();
    cleanups.push(drop);
    const db = await openDatabase({ url });
    await db.migrate();
    const audit = createAuditTrail(db, systemClock);
    for (let i = 0; i < 12; i++)
      await audit.append({
        actor: { type: 'system', id: 'test' },
        action: 'test.entry',
        subject: { type: 'n', id: String(i) },
        data: { i },
      });
    await db.close();
    const env = childEnv({ ...emptyDirs(), DATABASE_URL: url });

    const intact = await runCli(['audit', 'verify'], env);
    expect(intact.stdout).toMatch(/intact: 12 entries/);
    expect(intact.code).toBe(0);

    // As a superuser, with the trigger out of the way for this session only.
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    await sql.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`update audit_events set data = '{"i": 1000}'::jsonb where seq = 7`;
    });
    await sql.end();
    const broken = await runCli(['audit', 'verify'], env);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/BROKEN at sequence 7: .*hash mismatch/);
  });
});
