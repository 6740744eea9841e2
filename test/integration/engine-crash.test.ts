import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { type Database, openDatabase } from '../../src/db/database.js';
import type { Engine } from '../../src/engine/engine.js';
import { createPostgresDatabase, TEST_DATABASE_URL } from '../support/databases.js';
import { childEnv, type ServeProcess, startServe } from '../support/quench-process.js';
import { playbook, testEngine } from './engine-harness.js';
import { startTarget, type Target } from './engine-target.js';

/**
 * The acceptance test of durable execution: `quench serve` (the built CLI, a child process)
 * is killed with SIGKILL while an HTTP step is in flight, started again, and the run completes.
 * The target deduplicates by Idempotency-Key and counts side effects: each one happens once,
 * and steps recorded before the crash are never sent again.
 */
describe.skipIf(!TEST_DATABASE_URL)('crash recovery of quench serve (PostgreSQL)', () => {
  let target: Target | undefined;
  let drop: (() => Promise<void>) | undefined;
  let db: Database | undefined;
  const children: ServeProcess[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) {
      c.kill('SIGKILL');
      await c.exited;
    }
    await db?.close();
    await target?.close();
    await drop?.();
  });

  it('resumes a run after SIGKILL mid-step; every side effect happens exactly once', async () => {
    const created = await createPostgresDatabase('quench_engine_crash');
    drop = created.drop;
    target = await startTarget();
    const env = childEnv({
      DATABASE_URL: created.url,
      QUENCH_HTTP_ALLOWLIST: target.host,
      // The run's playbook comes with the run (its snapshot), not from files.
      QUENCH_PLAYBOOK_DIR: mkdtempSync(join(tmpdir(), 'quench-playbooks-')),
      QUENCH_ENGINE_LEASE_MS: '2000',
      QUENCH_ENGINE_POLL_MS: '200',
      LOG_LEVEL: 'warn',
    });
    const first = await startServe(env);
    children.push(first);

    db = await openDatabase({ url: created.url, poolMax: 2 });
    const engine: Engine = testEngine(db, systemClock);
    const held = target.hold('/s2');
    const pb = playbook('crash', [
      { id: 's1', kind: 'action', action: 'http.request', params: { url: `${target.url}/s1` } },
      { id: 's2', kind: 'action', action: 'http.request', params: { url: `${target.url}/s2` } },
      {
        id: 's3',
        kind: 'action',
        action: 'http.request',
        params: { url: `${target.url}/s3`, body: { after: '${{ steps.s2.output.status }}' } },
      },
    ]);
    const { runId, correlationId } = await engine.startRun({ playbook: pb, correlationId: 'crash-test' });
    expect(correlationId).toBe('crash-test');

    await held.received; // s2's request reached the target: the worker is mid-attempt
    first.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    held.release(); // the target applies s2's side effect; its answer goes nowhere

    const second = await startServe(env);
    children.push(second);
    let run = await engine.getRun(runId);
    const deadline = Date.now() + 60_000;
    while (run?.state !== 'succeeded' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      run = await engine.getRun(runId);
    }
    expect(run?.state).toBe('succeeded');

    const keys = (path: string) => target!.requests.filter((r) => r.path === path).map((r) => r.key);
    expect(keys('/s1')).toEqual([`${runId}:s1`]);
    expect(keys('/s2')).toEqual([`${runId}:s2`, `${runId}:s2`]);
    expect(keys('/s3')).toEqual([`${runId}:s3`]);
    expect(target.applied.map((r) => `${r.path} ${r.key}`)).toEqual([`/s1 ${runId}:s1`, `/s2 ${runId}:s2`, `/s3 ${runId}:s3`]);
    expect(target.requests.every((r) => r.correlationId === 'crash-test')).toBe(true);
    const s2 = run!.steps.find((s) => s.key === 's2')!;
    expect(s2.attempts).toEqual([expect.objectContaining({ attempt: 1, status: 'succeeded', takeovers: 1 })]);
  });
});
