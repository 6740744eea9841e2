import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/main.js';

/** The stable `--json` shapes (docs/cli.md) and the process-level basics of the CLI. */
async function cli(args: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: { LOG_LEVEL: 'silent', ...env } });
  return { code, stdout, stderr };
}

describe('quench with no command, --version', () => {
  it('a bare quench prints the usage on stderr and exits 2; --help prints it on stdout', async () => {
    const bare = await cli([]);
    expect(bare).toMatchObject({ code: 2, stdout: '' });
    expect(bare.stderr).toMatch(/^Usage: quench <command>/);
    const help = await cli(['--help']);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toBe(bare.stderr);
  });

  it('--version is the version in package.json', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(await cli(['--version'])).toEqual({ code: 0, stdout: `quench ${version}\n`, stderr: '' });
  });
});

describe('quench validate --json', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reports every problem with file, line, col, severity and message; exit 1 when invalid', async () => {
    dir = mkdtempSync(join(tmpdir(), 'quench-validate-json-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'apiVersion: quench/v1\nkind: Playbook\nmetadata:\n  name: x\n  owner: sre\nsteps: []\n');
    const bad = await cli(['validate', '--json', dir]);
    expect(bad.code).toBe(1);
    const report = JSON.parse(bad.stdout) as Record<string, unknown> & { problems: Array<Record<string, unknown>> };
    expect(Object.keys(report)).toEqual(['valid', 'files', 'documents', 'errors', 'warnings', 'problems']);
    expect(report).toMatchObject({ valid: false, files: 1, documents: 1 });
    expect(report.errors).toBeGreaterThan(0);
    expect(report.problems.length).toBe((report.errors as number) + (report.warnings as number));
    for (const p of report.problems) {
      expect(Object.keys(p)).toEqual(['file', 'line', 'col', 'severity', 'message']);
      expect(p.file).toBe(file);
    }

    const good = await cli(['validate', '--json', join(process.cwd(), 'playbooks/demo.yaml')]);
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ valid: true, files: 1, documents: 1, errors: 0 });
  });
});
