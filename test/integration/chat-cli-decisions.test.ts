import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditTrail } from '../../src/audit/trail.js';
import { runCli } from '../../src/cli/main.js';
import { systemClock } from '../../src/core/clock.js';
import { openDatabase } from '../../src/db/database.js';
import { childEnv, repoRoot } from '../support/quench-process.js';
import { playbook, testEngine } from './engine-harness.js';

/**
 * Issue 9 §2: `quench approve|reject` authenticates like the API. The decider is the owner of
 * the token in QUENCH_TOKEN or on standard input (mapped by QUENCH_API_TOKENS), never a name
 * given with `--as`, so one operator cannot be both four-eyes approvers; every decision and
 * refusal is audited with `via: cli`.
 */
const TOKENS = { ada: 'tok-ada-0123456789abcdef0123456789ab', bob: 'tok-bob-0123456789abcdef0123456789ab' };
const API_TOKENS = `ada@example.com=${TOKENS.ada},bob@example.com=${TOKENS.bob}`;

const fourEyes = () =>
  playbook('cli-four-eyes', [
    { id: 'ask', kind: 'human', type: 'approve', prompt: 'Fail over?', risk: 'high', assign: { users: ['ada@example.com', 'bob@example.com'] } },
    { id: 'after', kind: 'action', action: 'log', params: { message: 'failed over' } },
  ]);

describe('quench approve and reject authenticate with a token', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const setUp = async () => {
    dir = mkdtempSync(join(tmpdir(), 'quench-cli-decide-'));
    const db = await openDatabase({ dataDir: dir });
    await db.migrate();
    const engine = testEngine(db, systemClock);
    const { runId } = await engine.startRun({ playbook: fourEyes() });
    await engine.createWorker().drain();
    const stepId = (await engine.getRun(runId))!.steps[0]!.id;
    await db.close();
    return { runId, stepId };
  };
  const cli = async (args: string[], extra: Record<string, string> = {}, stdin?: string) => {
    let stdout = '';
    let stderr = '';
    const code = await runCli(args, {
      stdout: (t) => (stdout += t),
      stderr: (t) => (stderr += t),
      env: { QUENCH_DATA_DIR: dir!, QUENCH_API_TOKENS: API_TOKENS, LOG_LEVEL: 'silent', ...extra },
      ...(stdin !== undefined ? { stdin: async () => stdin } : {}),
    });
    return { code, stdout, stderr };
  };
  const inspect = async <T>(fn: (db: Awaited<ReturnType<typeof openDatabase>>) => Promise<T>) => {
    const db = await openDatabase({ dataDir: dir! });
    try {
      return await fn(db);
    } finally {
      await db.close();
    }
  };

  it('refuses --as, a missing or unknown token, and one person approving twice; records via cli', async () => {
    const { runId, stepId } = await setUp();
    // A name is not a credential: --as is refused outright, whoever it names.
    const claimed = await cli(['approve', stepId, '--as', 'ada@example.com']);
    expect(claimed.code).toBe(2);
    expect(claimed.stderr).toContain('--as is not accepted');
    expect(await cli(['approve', stepId])).toMatchObject({ code: 1, stderr: expect.stringContaining('no API token') });
    expect(await cli(['approve', stepId], { QUENCH_TOKEN: 'tok-mallory-0123456789abcdef01234567' })).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('unknown API token'),
    });

    // ada approves with her token; with the same token again she is refused: it needs a second person.
    expect(await cli(['approve', stepId], { QUENCH_TOKEN: TOKENS.ada })).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('approval by ada@example.com recorded (1 of 2)'),
    });
    const twice = await cli(['approve', stepId], { QUENCH_TOKEN: TOKENS.ada });
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain('already approved');

    // bob's token, read from standard input, completes it.
    expect(await cli(['approve', stepId], {}, `${TOKENS.bob}\n`)).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('approved by bob@example.com'),
    });

    const { audit, run } = await inspect(async (db) => ({
      run: await testEngine(db, systemClock).getRun(runId),
      audit: await createAuditTrail(db, systemClock).page({ limit: 1000 }),
    }));
    expect(run!.steps[0]!.status).toBe('succeeded');
    const about = audit.filter((e) => e.subject.id === stepId);
    expect(about.find((e) => e.action === 'step.approval_recorded')).toMatchObject({ actor: { id: 'ada@example.com' }, data: { via: 'cli' } });
    expect(about.find((e) => e.action === 'step.decided')).toMatchObject({ actor: { id: 'bob@example.com' }, data: { via: 'cli' } });
    expect(about.find((e) => e.action === 'human_step.refused')).toMatchObject({
      actor: { id: 'ada@example.com' },
      data: { code: 'already_approved', via: 'cli' },
    });
  });

  it('reads the token from a real piped standard input (the built CLI)', async () => {
    const { stepId } = await setUp();
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [join(repoRoot, 'bin/quench.js'), 'reject', stepId, '--reason', 'not during the sale'], {
        cwd: repoRoot,
        env: childEnv({ QUENCH_DATA_DIR: dir!, QUENCH_API_TOKENS: API_TOKENS, LOG_LEVEL: 'silent' }),
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.once('error', reject);
      child.once('exit', (code) => resolve({ code, stdout, stderr }));
      // The token line is written and the pipe left open: the CLI must not wait for its end.
      child.stdin.write(`${TOKENS.bob}\n`);
      setTimeout(() => child.stdin.end(), 30_000).unref();
    });
    expect(result.stderr).toBe('');
    expect(result).toMatchObject({ code: 0, stdout: expect.stringContaining('rejected by bob@example.com') });
  });
});
