import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config/load.js';
import { systemClock } from '../../src/core/clock.js';
import { openDatabase } from '../../src/db/database.js';
import { type RunningService, startService } from '../../src/service.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { playbook, testEngine } from './engine-harness.js';

const humanPlaybook = () =>
  playbook('api', [
    { id: 'ask', kind: 'human', type: 'approve', prompt: 'Proceed?' },
    { id: 'after', kind: 'action', action: 'log', params: { message: 'done' } },
  ]);

describe('engine over /v1 (in-process service on PGlite)', () => {
  let service: RunningService | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await service?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lists runs, shows a timeline, and decides a step as the token user', async () => {
    dir = mkdtempSync(join(tmpdir(), 'quench-engine-api-'));
    const config = loadConfig({
      QUENCH_DATA_DIR: dir,
      QUENCH_PLAYBOOK_DIR: dir,
      QUENCH_SLO_DIR: dir,
      QUENCH_API_TOKENS: 'alice=tok-a-0123456789abcdef0123456789ab',
      QUENCH_ENGINE_POLL_MS: '50',
    });
    service = await startService(config, { logger: silentLogger, port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${service.port}`;
    const { runId } = await service.ctx.ports.engine.startRun({ playbook: humanPlaybook() });
    let stepId: string | undefined;
    while (!stepId) {
      const res = await fetch(`${base}/v1/runs/${runId}`, { headers: { authorization: 'Bearer tok-a-0123456789abcdef0123456789ab' } });
      const body = (await res.json()) as { steps: Array<{ id: string; key: string; status: string }> };
      stepId = body.steps.find((s) => s.key === 'ask' && s.status === 'waiting')?.id;
      if (!stepId) await new Promise((r) => setTimeout(r, 50));
    }
    const list = (await (await fetch(`${base}/v1/runs?state=waiting`, { headers: { authorization: 'Bearer tok-a-0123456789abcdef0123456789ab' } })).json()) as {
      runs: Array<{ id: string }>;
    };
    expect(list.runs.map((r) => r.id)).toEqual([runId]);
    expect((await fetch(`${base}/v1/runs?state=bogus`, { headers: { authorization: 'Bearer tok-a-0123456789abcdef0123456789ab' } })).status).toBe(400);

    const decide = (body: unknown, token?: string) =>
      fetch(`${base}/v1/steps/${stepId}/decision`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      });
    expect((await decide({ decision: 'approve' })).status).toBe(401);
    expect((await decide({ decision: 'reject' }, 'tok-a-0123456789abcdef0123456789ab')).status).toBe(400);
    const ok = await decide({ decision: 'approve', comment: 'lgtm' }, 'tok-a-0123456789abcdef0123456789ab');
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ status: 'decided', runId, result: 'succeeded', by: 'alice' });
    expect((await decide({ decision: 'approve' }, 'tok-a-0123456789abcdef0123456789ab')).status).toBe(409);
    let state = '';
    while (state !== 'succeeded') {
      state = (
        (await (await fetch(`${base}/v1/runs/${runId}`, { headers: { authorization: 'Bearer tok-a-0123456789abcdef0123456789ab' } })).json()) as { state: string }
      ).state;
      if (state !== 'succeeded') await new Promise((r) => setTimeout(r, 50));
    }
    expect((await fetch(`${base}/v1/runs/nope`, { headers: { authorization: 'Bearer tok-a-0123456789abcdef0123456789ab' } })).status).toBe(404);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/quench_engine_runs\{state="succeeded"\} 1/);
    expect(metrics).toMatch(/quench_engine_step_attempts_total\{action="log",outcome="succeeded"\} 1/);
  });
});

describe('engine CLI (PGlite data dir)', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs list/show, approve with a token (never --as), reject needs a reason, dlq list', async () => {
    dir = mkdtempSync(join(tmpdir(), 'quench-engine-cli-'));
    const db = await openDatabase({ dataDir: dir });
    await db.migrate();
    const engine = testEngine(db, systemClock);
    const { runId } = await engine.startRun({ playbook: humanPlaybook() });
    await engine.createWorker().drain();
    const stepId = (await engine.getRun(runId))!.steps[0]!.id;
    await db.close();

    const env = { QUENCH_DATA_DIR: dir, QUENCH_API_TOKENS: 'alice=tok-a-0123456789abcdef0123456789ab', LOG_LEVEL: 'silent' };
    const cli = async (...args: string[]) => cliWith({}, ...args);
    const cliWith = async (extra: Record<string, string>, ...args: string[]) => {
      let stdout = '';
      let stderr = '';
      const code = await runCli(args, {
        stdout: (t) => {
          stdout += t;
        },
        stderr: (t) => {
          stderr += t;
        },
        env: { ...env, ...extra },
      });
      return { code, stdout, stderr };
    };
    const list = await cli('runs', 'list');
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(runId);
    expect(list.stdout).toContain('waiting');
    const show = await cli('runs', 'show', runId);
    expect(show.stdout).toContain(`quench approve ${stepId}`);
    expect(await cli('approve', stepId)).toMatchObject({ code: 1, stderr: expect.stringContaining('no API token') });
    expect(await cliWith({ QUENCH_TOKEN: 'not-a-token' }, 'approve', stepId)).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('unknown API token'),
    });
    expect((await cli('approve', stepId, '--as', 'alice')).code).toBe(2);
    expect((await cliWith({ QUENCH_TOKEN: 'tok-a-0123456789abcdef0123456789ab' }, 'reject', stepId)).code).toBe(2);
    expect(await cliWith({ QUENCH_TOKEN: 'tok-a-0123456789abcdef0123456789ab' }, 'approve', stepId)).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('approved by alice'),
    });
    expect(await cli('dlq', 'list')).toMatchObject({ code: 0, stdout: 'no dead-lettered steps\n' });
    expect((await cli('runs', 'show', 'missing')).code).toBe(1);
  });
});
