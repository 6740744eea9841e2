import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { openDatabase } from '../../src/db/database.js';
import { childEnv, freePort, repoRoot, runCli, type ServeProcess, startServe } from '../support/quench-process.js';
import { playbook, testEngine } from './engine-harness.js';

/**
 * Issue 15, "The CLI beside the service": with the embedded database only `quench serve` may
 * open the data folder, so every reading or deciding command the README and the example files
 * suggest must reach the running service instead. A real `quench serve` child holds the folder
 * lock while real CLI children run each command against it (no QUENCH_URL: the lock alone sends
 * them to http://localhost:PORT).
 */
const TOKEN = 'tok-ada-cli-beside-0123456789abcdef0123';
const READ_TOKEN = 'tok-ro-cli-beside-0123456789abcdef01234';

describe('the CLI beside a running quench serve on the embedded database', () => {
  let root: string;
  let serve: ServeProcess | undefined;
  let env: NodeJS.ProcessEnv;
  let runId: string;
  let stepId: string;
  let failedRunId: string;
  let readmeRunId: string;
  let readmeStepId: string;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'quench-cli-beside-'));
    const dataDir = join(root, 'data');
    const sloDir = join(root, 'slo');
    const playbookDir = join(root, 'playbooks');
    for (const d of [dataDir, sloDir, playbookDir]) mkdirSync(d);
    cpSync(join(repoRoot, 'slo/demo.yaml'), join(sloDir, 'demo.yaml'));

    // A run waiting for a human, and one whose step was dead-lettered (a 127.0.0.1 port nobody listens on).
    const db = await openDatabase({ dataDir });
    await db.migrate();
    const engine = testEngine(db, systemClock);
    ({ runId } = await engine.startRun({
      playbook: playbook('beside', [
        { id: 'ask', kind: 'human', type: 'approve', prompt: 'Proceed?' },
        { id: 'after', kind: 'action', action: 'log', params: { message: 'done' } },
      ]),
    }));
    const deadPort = await freePort();
    ({ runId: failedRunId } = await engine.startRun({
      playbook: playbook('beside-dead', [
        { id: 'call', kind: 'action', action: 'http.request', params: { url: `http://127.0.0.1:${deadPort}/x` }, retry: { maxAttempts: 1 } },
      ]),
    }));
    // The README's run: the one its commands show and approve.
    ({ runId: readmeRunId } = await engine.startRun({
      playbook: playbook('readme', [{ id: 'acknowledge', kind: 'human', type: 'approve', prompt: 'Acknowledge the burn?' }]),
    }));
    await engine.createWorker().drain();
    stepId = (await engine.getRun(runId))!.steps.find((s) => s.key === 'ask')!.id;
    readmeStepId = (await engine.getRun(readmeRunId))!.steps.find((s) => s.key === 'acknowledge')!.id;
    await db.close();

    const base = {
      QUENCH_DATA_DIR: dataDir,
      QUENCH_SLO_DIR: sloDir,
      QUENCH_PLAYBOOK_DIR: playbookDir,
      QUENCH_API_TOKENS: `ada=${TOKEN},viewer:read=${READ_TOKEN}`,
      QUENCH_LISTEN_HOST: '127.0.0.1',
      QUENCH_ENGINE_POLL_MS: '100',
      QUENCH_HTTP_ALLOWLIST: '127.0.0.1:*',
    };
    serve = await startServe(childEnv(base));
    env = childEnv({ ...base, PORT: String(serve.port), QUENCH_TOKEN: READ_TOKEN, LOG_LEVEL: 'warn' });
  }, 120_000);

  afterAll(async () => {
    serve?.kill('SIGTERM');
    if (serve) await serve.exited;
    rmSync(root, { recursive: true, force: true });
  });

  it('quench runs and runs show ask the service that holds the folder, and say so', async () => {
    const list = await runCli(['runs'], env);
    expect(list.code).toBe(0);
    expect(list.stderr).toMatch(new RegExp(`in use by process \\d+: asking the running service at http://localhost:${serve!.port}`));
    expect(list.stdout).toContain(runId);
    expect(list.stdout).toMatch(new RegExp(`${runId}\\s+waiting`));

    const show = await runCli(['runs', 'show', runId], env);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(`QUENCH_TOKEN=<your token> quench approve ${stepId}`);

    const missing = await runCli(['runs', 'show', 'no-such-run'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no run with id no-such-run');
  });

  it('quench dlq list, dlq retry (full token only), dlq inbox and audit verify (text and --json) answer through the service', async () => {
    const dlq = await runCli(['dlq', 'list'], env);
    expect(dlq.code).toBe(0);
    expect(dlq.stdout).toMatch(new RegExp(`run=${failedRunId} step=call action=http.request attempts=1`));
    const [letter] = JSON.parse((await runCli(['dlq', 'list', '--json'], env)).stdout) as Array<{ id: string; runId: string }>;
    expect(letter!.runId).toBe(failedRunId);
    const readOnlyRetry = await runCli(['dlq', 'retry', letter!.id], env);
    expect(readOnlyRetry.code).toBe(1);
    expect(readOnlyRetry.stderr).toMatch(/refused/);
    const retried = await runCli(['dlq', 'retry', letter!.id], { ...env, QUENCH_TOKEN: TOKEN });
    expect(retried.code).toBe(0);
    expect(retried.stdout).toMatch(new RegExp(`re-driving step .* of run ${failedRunId}`));
    const inbox = await runCli(['dlq', 'inbox'], env);
    expect(inbox).toMatchObject({ code: 0, stdout: 'no dead-lettered inbox entries\n' });

    const verify = await runCli(['audit', 'verify'], env);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/^audit trail intact: \d+ entries, head \d+:[0-9a-f]{64}\n$/);
    const json = await runCli(['audit', 'verify', '--json'], env);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as { ok: boolean; count: number; head: { seq: number; hash: string } };
    expect(report).toMatchObject({ ok: true, keyedSince: null, expectedMatched: 0 });
    expect(report.count).toBeGreaterThan(3);

    const expectWrong = await runCli(['audit', 'verify', '--expect', `${report.head.seq}:${'0'.repeat(64)}`], env);
    expect(expectWrong.code).toBe(1);
    expect(expectWrong.stderr).toMatch(new RegExp(`BROKEN at sequence ${report.head.seq}`));
  });

  it('quench slo status shows the service\u2019s live statuses', async () => {
    const status = await runCli(['slo', 'status', '--json'], env);
    expect(status.code).toBe(0);
    const body = JSON.parse(status.stdout) as { source: string; slos: Array<{ name: string }> };
    expect(body.source).toBe('service');
    expect(body.slos.map((s) => s.name)).toEqual(['demo-checkout-synthetic']);
  });

  it('approve needs a full-access token, then decides through the service (--json) and the run finishes', async () => {
    const readOnly = await runCli(['approve', stepId], env);
    expect(readOnly.code).toBe(1);
    expect(readOnly.stderr).toMatch(/refused/);

    const approved = await runCli(['approve', stepId, '--json'], { ...env, QUENCH_TOKEN: TOKEN });
    expect(approved.stderr).toContain('asking the running service');
    expect(approved.code).toBe(0);
    expect(JSON.parse(approved.stdout)).toEqual({ status: 'decided', stepId, runId, decision: 'approve', by: 'ada' });

    const again = await runCli(['reject', stepId, '--reason', 'late', '--json'], { ...env, QUENCH_TOKEN: TOKEN });
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');

    let state = '';
    for (let i = 0; i < 100 && state !== 'succeeded'; i++) {
      const shown = await runCli(['runs', 'show', runId, '--json'], env);
      state = (JSON.parse(shown.stdout) as { state: string }).state;
      if (state !== 'succeeded') await new Promise((r) => setTimeout(r, 200));
    }
    expect(state).toBe('succeeded');
  });

  it('every command the README\u2019s first run and the example files suggest works as written', async () => {
    const suggested = suggestedCommands();
    // The extraction found what a new user is told to type (a change to the README that this
    // test would not see shows up here first).
    for (const c of ['npx quench slo status', 'npx quench runs', 'npx quench runs show RUN_ID', 'npx quench dlq list', 'npx quench audit verify', 'npx quench approve STEP_ID', 'curl localhost:3000/healthz', 'npx quench runs list'])
      expect(suggested).toContain(c);
    const approvals = suggested.filter((c) => / approve /.test(c));
    for (const command of [...suggested.filter((c) => !approvals.includes(c)), ...approvals]) {
      const words = command.replace('RUN_ID', readmeRunId).replace(/\bID\b/, readmeRunId).replace('STEP_ID', readmeStepId).split(/\s+/);
      if (words[0] === 'curl') {
        // This service has QUENCH_API_TOKENS (the README's second start), so /v1 reads need a token;
        // without tokens (its first start) they are open to local callers (http-listen-auth tests).
        const path = words[1]!.replace(/^localhost:3000/, '');
        const res = await fetch(`http://127.0.0.1:${serve!.port}${path}`, path.startsWith('/v1/') ? { headers: { authorization: `Bearer ${READ_TOKEN}` } } : {});
        expect(res.status, command).toBe(200);
        continue;
      }
      expect(words.slice(0, 2), command).toEqual(['npx', 'quench']);
      const result = await runCli(words.slice(2), approvals.includes(command) ? { ...env, QUENCH_TOKEN: TOKEN } : env);
      expect({ command, code: result.code, stderr: result.stderr.split('\n').filter((l) => !l.includes('asking the running service')).join('\n') }).toEqual({
        command,
        code: 0,
        stderr: '',
      });
    }
    expect((await runCli(['runs', 'show', readmeRunId, '--json'], env)).stdout).toContain('"decision"');
  });

  it('quench ack and quench reviews answer through the service too', async () => {
    const acked = await runCli(['ack', readmeRunId], { ...env, QUENCH_TOKEN: TOKEN });
    expect(acked.code).toBe(0);
    expect(acked.stdout).toBe(`Run ${readmeRunId} acknowledged by ada. It triggered no PagerDuty incident, so there is nothing to acknowledge in PagerDuty.\n`);
    const readOnly = await runCli(['ack', readmeRunId], env);
    expect(readOnly.code).toBe(1);
    expect(readOnly.stderr).toMatch(/refused/);
    const reviews = await runCli(['reviews'], env);
    expect(reviews).toMatchObject({ code: 0, stdout: 'no auto-approvals to review\n' });
    const unknown = await runCli(['reviews', 'agree', 'no-such-step'], { ...env, QUENCH_TOKEN: TOKEN });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no auto-approval sampled for review with step id no-such-step');
  });

  it('an unreachable QUENCH_URL says so, names the URL and how to fix it', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const result = await runCli(['runs'], { ...env, QUENCH_URL: url });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`the Quench service at ${url} is not reachable (ECONNREFUSED)`);
    expect(result.stderr).toContain('set QUENCH_URL to where it listens');
  });
});

/**
 * What the README's first run (up to "## Concepts") and the example files' comments tell a new
 * user to type while the service runs: `npx quench …` and `curl localhost:3000/…`, as written.
 */
function suggestedCommands(): string[] {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8').split('## Concepts')[0]!;
  const fromReadme = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)]
    .flatMap((block) => block[1]!.split('\n'))
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => /^(npx quench |curl localhost:3000\/)/.test(line));
  const examples = ['playbooks', 'slo'].flatMap((dir) =>
    readdirSync(join(repoRoot, dir))
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => readFileSync(join(repoRoot, dir, f), 'utf8')),
  );
  const fromExamples = examples
    .flatMap((text) => [...text.matchAll(/`(?:QUENCH_TOKEN=<your token> )?((?:npx )?quench [^`]+)`/g)].map((m) => m[1]!.replace(/^quench /, 'npx quench ')))
    // A bare verb named in prose (`quench approve`) is a mention, not a command to type.
    .filter((c) => c !== 'npx quench approve');
  return [...new Set([...fromReadme, ...fromExamples])];
}
