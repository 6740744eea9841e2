import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { type AttemptStart, beginAttempt } from '../../src/engine/sql/attempt.js';
import { claimDueSteps } from '../../src/engine/sql/claim.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';
import { playbook, testEngine } from './engine-harness.js';
import { startTarget, type Target } from './engine-target.js';

const LEASE_MS = 30_000;

describe.each(databaseKinds)('saga compensation on %s', (kind) => {
  let t: TestDatabase;
  let target: Target;
  afterEach(async () => {
    await target?.close();
    await t?.dispose();
  });

  const sagaPlaybook = (url: string) =>
    playbook('saga', [
      ...['a', 'b', 'c'].map((id) => ({
        id,
        kind: 'action' as const,
        action: 'http.request',
        params: { url: `${url}/do-${id}` },
        compensate: {
          action: 'http.request',
          params: { url: `${url}/undo-${id}`, body: { status: '${{ steps.' + id + '.output.status }}' } },
        },
      })),
      { id: 'read', kind: 'action', action: 'log', params: { message: 'no side effect, nothing to undo' } },
      { id: 'boom', kind: 'action', action: 'http.request', params: { url: `${url}/boom` } },
    ]);

  it('undoes completed steps in reverse order and ends compensated', async () => {
    t = await freshDatabase(kind);
    target = await startTarget();
    target.script('/boom', [422]);
    const clock = new ManualClock();
    const engine = testEngine(t.db, clock, { env: { QUENCH_HTTP_ALLOWLIST: target.host } });
    const { runId } = await engine.startRun({ playbook: sagaPlaybook(target.url) });
    await engine.createWorker().drain();
    const run = (await engine.getRun(runId))!;
    expect(run.state).toBe('compensated');
    expect(target.applied.map((r) => r.path)).toEqual(['/do-a', '/do-b', '/do-c', '/undo-c', '/undo-b', '/undo-a']);
    expect(run.steps.filter((s) => s.role === 'compensation').map((s) => [s.key, s.status])).toEqual([
      ['c/compensate', 'succeeded'],
      ['b/compensate', 'succeeded'],
      ['a/compensate', 'succeeded'],
    ]);
  });

  it('survives a worker crash in the middle of compensating: the next worker resumes with the same key', async () => {
    t = await freshDatabase(kind);
    target = await startTarget();
    target.script('/boom', [422]);
    const clock = new ManualClock();
    const engine = testEngine(t.db, clock, { env: { QUENCH_HTTP_ALLOWLIST: target.host }, options: { leaseMs: LEASE_MS } });
    const { runId } = await engine.startRun({ playbook: sagaPlaybook(target.url) });
    const survivor = engine.createWorker('survivor');

    // Run forward one step at a time until the next due step is the first compensation.
    for (;;) {
      const [next] = await t.db.rows<{ step_key: string }>(
        sql`select step_key from engine_steps where wake_at is not null order by wake_at, step_key limit 1`,
      );
      expect(next).toBeDefined();
      if (next!.step_key.endsWith('/compensate')) break;
      expect(await survivor.drain({ maxSteps: 1 })).toBe(1);
    }
    expect((await engine.getRun(runId))!.state).toBe('compensating');

    // A worker claims the first compensation (undo c), starts its attempt, sends the request,
    // and dies before recording the result: exactly the state a SIGKILL leaves behind.
    const [claimed] = await claimDueSteps(t.db, 'doomed', clock.now(), LEASE_MS, 10);
    expect(claimed?.stepKey).toBe('c/compensate');
    const start = (await beginAttempt(t.db, {
      stepId: claimed!.id,
      runId,
      stepKey: 'c/compensate',
      worker: 'doomed',
      token: claimed!.token,
      now: clock.now(),
      stepTimeoutMs: null,
      params: {},
    })) as AttemptStart | undefined;
    await fetch(`${target.url}/undo-c`, { method: 'POST', headers: { 'Idempotency-Key': start!.idempotencyKey } });

    // Before the lease expires nobody touches it.
    expect(await survivor.drain()).toBe(0);
    clock.advance(LEASE_MS + 1);
    await survivor.drain();

    const run = (await engine.getRun(runId))!;
    expect(run.state).toBe('compensated');
    const undoC = run.steps.find((s) => s.key === 'c/compensate')!;
    expect(undoC.attempts).toHaveLength(1);
    expect(undoC.attempts[0]).toMatchObject({
      attempt: 1,
      status: 'succeeded',
      takeovers: 1,
      worker: 'survivor',
      idempotencyKey: start!.idempotencyKey,
    });
    // Sent twice (before the crash and after the takeover) with one key, applied once.
    expect(target.requests.filter((r) => r.path === '/undo-c').map((r) => r.key)).toEqual([start!.idempotencyKey, start!.idempotencyKey]);
    expect(target.applied.map((r) => r.path)).toEqual(['/do-a', '/do-b', '/do-c', '/undo-c', '/undo-b', '/undo-a']);
  });

  it('ends compensation_failed and raises a manual human step when an undo fails for good', async () => {
    t = await freshDatabase(kind);
    target = await startTarget();
    target.script('/boom', [422]);
    target.script('/undo-b', [400]);
    const clock = new ManualClock();
    const engine = testEngine(t.db, clock, { env: { QUENCH_HTTP_ALLOWLIST: target.host } });
    const { runId } = await engine.startRun({ playbook: sagaPlaybook(target.url) });
    await engine.createWorker().drain();
    const run = (await engine.getRun(runId))!;
    expect(run.state).toBe('compensation_failed');
    expect(target.applied.map((r) => r.path)).toEqual(['/do-a', '/do-b', '/do-c', '/undo-c']);
    const manual = run.steps.find((s) => s.key === 'b/compensate/manual')!;
    expect(manual).toMatchObject({ kind: 'human', status: 'waiting' });
    expect(run.steps.find((s) => s.key === 'a/compensate')!.status).toBe('pending');

    // The operator fixes the target and re-drives the dead-lettered undo: compensation resumes.
    target.script('/undo-b', [200]);
    const letter = (await engine.listDeadLetters()).find((d) => d.stepKey === 'b/compensate')!;
    await engine.retryDeadLetter(letter.id, { type: 'user', id: 'ops' });
    await engine.createWorker().drain();
    const after = (await engine.getRun(runId))!;
    expect(after.state).toBe('compensated');
    expect(target.applied.map((r) => r.path)).toEqual(['/do-a', '/do-b', '/do-c', '/undo-c', '/undo-b', '/undo-a']);
    expect(after.steps.find((s) => s.key === 'b/compensate/manual')!.status).toBe('cancelled');
  });
});
