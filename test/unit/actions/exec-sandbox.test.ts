import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ActionContext } from '../../../src/actions/action.js';
import { execAction } from '../../../src/actions/exec.js';
import { runCli } from '../../../src/cli/main.js';
import { loadConfig } from '../../../src/config/load.js';
import { ManualClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/telemetry/logger.js';

/**
 * Issue 9 §3: `params.env` could set PATH (an allowlisted `kubectl` then resolved to a planted
 * binary) or LD_PRELOAD / NODE_OPTIONS (code injected into an allowlisted program).
 */
function ctx(env: Record<string, string>): ActionContext {
  return {
    runId: 'run-1',
    stepKey: 'step',
    attempt: 1,
    idempotencyKey: 'run-1:step:1',
    correlationId: 'corr-1',
    signal: new AbortController().signal,
    clock: new ManualClock(),
    logger: silentLogger,
    config: loadConfig(env),
    ports: {},
    drill: false,
  };
}

/** Parses and runs as the engine does (a parse failure is an `invalid_params` step failure). */
async function attempt(params: unknown, c: ActionContext): Promise<{ ok: unknown } | { error: string }> {
  try {
    return { ok: await execAction.run(execAction.params.parse(params), c) };
  } catch (err) {
    const e = err as { code?: string; message: string };
    return { error: e.code ?? `invalid_params: ${e.message}` };
  }
}

let dir: string;
let marker: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'quench-exec-'));
  marker = join(dir, 'planted-ran');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function plant(name: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\necho pwned > '${marker}'\n`);
  chmodSync(file, 0o755);
  return file;
}

describe('exec sandbox', () => {
  it('a PATH override in params.env cannot make an allowlisted name run a planted binary', async () => {
    plant('kubectl');
    const result = await attempt({ argv: ['kubectl', 'version'], env: { PATH: dir } }, ctx({ QUENCH_EXEC_ALLOWLIST: 'kubectl' }));
    expect(existsSync(marker)).toBe(false);
    expect(result).toMatchObject({ error: expect.stringMatching(/PATH/) });
  });

  it('a planted binary in the working directory is not found through a relative PATH entry', async () => {
    plant('quench-planted-tool');
    const saved = process.env.PATH;
    process.env.PATH = `.${delimiter}${saved ?? ''}`;
    try {
      const c = ctx({ QUENCH_EXEC_ALLOWLIST: 'quench-planted-tool' });
      const result = await attempt({ argv: ['quench-planted-tool'], cwd: dir }, c);
      expect(existsSync(marker)).toBe(false);
      expect(result).toMatchObject({ error: expect.any(String) });
    } finally {
      process.env.PATH = saved;
    }
  });

  it('NODE_OPTIONS, LD_PRELOAD and the like are refused before anything runs', async () => {
    const hook = join(dir, 'hook.cjs');
    writeFileSync(hook, `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'pwned')`);
    const c = ctx({ QUENCH_EXEC_ALLOWLIST: 'node', QUENCH_EXEC_ENV_ALLOWLIST: 'NODE_OPTIONS,LD_PRELOAD,GREETING' });
    const result = await attempt({ argv: ['node', '-e', '0'], env: { NODE_OPTIONS: `--require ${hook}` } }, c);
    expect(existsSync(marker)).toBe(false);
    expect(result).toMatchObject({ error: expect.stringMatching(/NODE_OPTIONS/) });
    for (const name of ['LD_PRELOAD', 'LD_LIBRARY_PATH', 'DYLD_INSERT_LIBRARIES', 'JAVA_TOOL_OPTIONS', 'BASH_ENV', 'ENV', 'IFS', 'PYTHONPATH']) {
      expect(execAction.params.safeParse({ argv: ['node'], env: { [name]: 'x' } }).success, name).toBe(false);
    }
  });

  it('environment names must be allowlisted by the operator; allowlisted ones reach the child', async () => {
    const script = 'process.stdout.write(String(process.env.GREETING))';
    const denied = await attempt({ argv: ['node', '-e', script], env: { GREETING: 'hi' } }, ctx({ QUENCH_EXEC_ALLOWLIST: 'node' }));
    expect(denied).toEqual({ error: 'env_not_allowed' });
    const allowed = await attempt(
      { argv: ['node', '-e', script], env: { GREETING: 'hi' } },
      ctx({ QUENCH_EXEC_ALLOWLIST: 'node', QUENCH_EXEC_ENV_ALLOWLIST: 'GREET*' }),
    );
    expect(allowed).toMatchObject({ ok: { exitCode: 0, stdout: 'hi' } });
  });

  it('argv[0] runs as the absolute path found on the service PATH; relative paths are refused', async () => {
    const script = 'process.stdout.write(process.argv0 + " " + process.execPath)';
    const ok = await attempt({ argv: ['node', '-e', script] }, ctx({ QUENCH_EXEC_ALLOWLIST: 'node' }));
    expect(ok).toMatchObject({ ok: { exitCode: 0 } });
    const argv0 = String((ok as { ok: { stdout: string } }).ok.stdout.split(' ')[0]);
    expect(argv0.startsWith('/')).toBe(true);
    plant('tool');
    const relative = await attempt({ argv: ['./tool'], cwd: dir }, ctx({ QUENCH_EXEC_ALLOWLIST: './tool' }));
    expect(relative).toEqual({ error: 'command_not_allowed' });
    expect(existsSync(marker)).toBe(false);
    // An absolute path runs only when the allowlist names that exact path.
    const planted = join(dir, 'tool');
    expect(await attempt({ argv: [planted] }, ctx({ QUENCH_EXEC_ALLOWLIST: 'tool' }))).toEqual({ error: 'command_not_allowed' });
    expect(existsSync(marker)).toBe(false);
    expect(await attempt({ argv: [planted] }, ctx({ QUENCH_EXEC_ALLOWLIST: planted }))).toMatchObject({ ok: { exitCode: 0 } });
    expect(existsSync(marker)).toBe(true);
    expect(dirname(planted)).toBe(dir);
  });

  it('quench validate reports an unsafe env name at file:line:col, saying why', async () => {
    const file = join(dir, 'envs.yaml');
    writeFileSync(
      file,
      `apiVersion: quench/v1
kind: Playbook
metadata: { name: envs, owner: me }
steps:
  - id: run
    kind: action
    action: exec
    params: { argv: [kubectl, version], env: { PATH: /tmp/evil, GREETING: hi } }
`,
    );
    const out: string[] = [];
    const code = await runCli(['validate', file], { stdout: (t) => out.push(t), stderr: () => undefined, env: {} });
    expect(code).toBe(1);
    const line = out.join('').trim();
    expect(line.startsWith(`${file}:8:`)).toBe(true);
    expect(line).toMatch(/exec: parameter 'env.PATH': 'PATH' changes which program runs/);
  });
});
