import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { systemClock } from '../../src/core/clock.js';
import { openDatabase } from '../../src/db/database.js';
import { playbook, testEngine } from './engine-harness.js';

/**
 * `--json` of approve, reject and audit verify on the direct database path (PGlite folder, no
 * service): the same shapes as through the service (test/integration/cli-beside-service.test.ts).
 */
const TOKENS = { ada: 'tok-ada-json-0123456789abcdef0123456789', bob: 'tok-bob-json-0123456789abcdef0123456789' };

describe('CLI --json on the database path', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const cli = async (args: string[], extra: Record<string, string> = {}) => {
    let stdout = '';
    let stderr = '';
    const code = await runCli(args, {
      stdout: (t) => (stdout += t),
      stderr: (t) => (stderr += t),
      env: { QUENCH_DATA_DIR: dir!, QUENCH_API_TOKENS: `ada=${TOKENS.ada},bob=${TOKENS.bob}`, LOG_LEVEL: 'silent', ...extra },
    });
    return { code, stdout, stderr };
  };

  it('approve (four-eyes: approval_recorded, then decided), reject and audit verify', async () => {
    dir = mkdtempSync(join(tmpdir(), 'quench-cli-json-'));
    const db = await openDatabase({ dataDir: dir });
    await db.migrate();
    const engine = testEngine(db, systemClock);
    const { runId } = await engine.startRun({
      playbook: playbook('json', [{ id: 'ask', kind: 'human', type: 'approve', prompt: 'Go?', risk: 'high' }]),
    });
    const { runId: otherRun } = await engine.startRun({ playbook: playbook('json-reject', [{ id: 'ask', kind: 'human', type: 'approve', prompt: 'Go?' }]) });
    await engine.createWorker().drain();
    const stepId = (await engine.getRun(runId))!.steps[0]!.id;
    const otherStep = (await engine.getRun(otherRun))!.steps[0]!.id;
    await db.close();

    const first = await cli(['approve', stepId, '--json'], { QUENCH_TOKEN: TOKENS.ada });
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({ status: 'approval_recorded', stepId, runId, decision: 'approve', by: 'ada', approvals: 1, required: 2 });
    const second = await cli(['approve', stepId, '--json'], { QUENCH_TOKEN: TOKENS.bob });
    expect(JSON.parse(second.stdout)).toEqual({ status: 'decided', stepId, runId, decision: 'approve', by: 'bob' });
    const rejected = await cli(['reject', otherStep, '--reason', 'not now', '--json'], { QUENCH_TOKEN: TOKENS.ada });
    expect(rejected.code).toBe(0);
    expect(JSON.parse(rejected.stdout)).toEqual({ status: 'decided', stepId: otherStep, runId: otherRun, decision: 'reject', by: 'ada' });

    const verify = await cli(['audit', 'verify', '--json']);
    expect(verify.code).toBe(0);
    const report = JSON.parse(verify.stdout) as { count: number; head: { seq: number; hash: string } };
    expect(Object.keys(report)).toEqual(['ok', 'count', 'head', 'keyedSince', 'expectedMatched', 'unchained']);
    expect(report.head.seq).toBe(report.count);
    expect(report.head.hash).toMatch(/^[0-9a-f]{64}$/);

    const matched = await cli(['audit', 'verify', '--json', '--expect', `${report.head.seq}:${report.head.hash}`]);
    expect(JSON.parse(matched.stdout)).toMatchObject({ ok: true, expectedMatched: 1 });
    const wrong = await cli(['audit', 'verify', '--json', '--expect', `${report.head.seq}:${'f'.repeat(64)}`]);
    expect(wrong.code).toBe(1);
    const broken = JSON.parse(wrong.stdout) as Record<string, unknown>;
    expect(Object.keys(broken)).toEqual(['ok', 'count', 'broken']);
    expect(broken.broken).toMatchObject({ seq: report.head.seq, kind: expect.any(String), message: expect.any(String) });
  });
});
