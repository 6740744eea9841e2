import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';
import { playbook, testEngine } from './engine-harness.js';
import { startTarget, type Target } from './engine-target.js';

/** Retry delays follow the policy (full jitter with an injected random), moved by a manual clock. */
describe.each(databaseKinds)('retry back-off on %s', (kind) => {
  let t: TestDatabase;
  let target: Target;
  afterEach(async () => {
    await target?.close();
    await t?.dispose();
  });

  it('waits exactly the jittered delay before each retry, then succeeds', async () => {
    t = await freshDatabase(kind);
    target = await startTarget();
    target.script('/flaky', [503, 503, 503, 200]);
    const clock = new ManualClock('2026-03-01T00:00:00Z');
    const randoms = [0.5, 0.25, 0.9999];
    const engine = testEngine(t.db, clock, { random: () => randoms.shift()!, env: { QUENCH_HTTP_ALLOWLIST: target.host } });
    const worker = engine.createWorker('w');
    const pb = playbook('retry', [
      {
        id: 'call',
        kind: 'action',
        action: 'http.request',
        params: { url: `${target.url}/flaky` },
        retry: { maxAttempts: 5, initialDelay: '1s', maxDelay: '3s' },
      },
    ]);
    const { runId } = await engine.startRun({ playbook: pb });
    const t0 = clock.now().getTime();
    const wakeOf = async () => (await engine.getRun(runId))!.steps[0]!.wakeAt!.getTime();

    // Ceiling after attempt n: min(3000, 1000·2^(n-1)); delay = floor(random · (ceiling + 1)).
    const expected = [Math.floor(0.5 * 1001), Math.floor(0.25 * 2001), Math.floor(0.9999 * 3001)];
    expect(expected).toEqual([500, 500, 3000]);
    await worker.drain();
    let due = t0;
    for (const delay of expected) {
      const step = (await engine.getRun(runId))!.steps[0]!;
      expect(step.status).toBe('retry_wait');
      due += delay;
      expect(await wakeOf()).toBe(due);
      clock.set(due - 1);
      expect(await worker.drain()).toBe(0); // not a millisecond early
      clock.set(due);
      expect(await worker.drain()).toBe(1);
    }
    const run = (await engine.getRun(runId))!;
    expect(run.state).toBe('succeeded');
    expect(run.steps[0]!.attempts.map((a) => [a.attempt, a.status])).toEqual([
      [1, 'failed'],
      [2, 'failed'],
      [3, 'failed'],
      [4, 'succeeded'],
    ]);
    // One key for the step; the attempt number travels in its own header.
    expect(target.requests.map((r) => [r.key, r.attempt])).toEqual([1, 2, 3, 4].map((n) => [`${runId}:call`, String(n)]));
  });

  it('does not retry a non-retryable failure, and dead-letters it', async () => {
    t = await freshDatabase(kind);
    target = await startTarget();
    target.script('/bad', [400]);
    const clock = new ManualClock();
    const engine = testEngine(t.db, clock, { env: { QUENCH_HTTP_ALLOWLIST: target.host } });
    const pb = playbook('noretry', [
      { id: 'call', kind: 'action', action: 'http.request', params: { url: `${target.url}/bad` }, retry: { maxAttempts: 5 } },
    ]);
    const { runId } = await engine.startRun({ playbook: pb });
    await engine.createWorker().drain();
    const run = (await engine.getRun(runId))!;
    expect(run.state).toBe('failed');
    expect(run.steps[0]!.attempts).toHaveLength(1);
    const [letter] = await engine.listDeadLetters();
    expect(letter).toMatchObject({ runId, stepKey: 'call', reason: 'non_retryable', attempts: 1, action: 'http.request' });
    expect((letter!.error as { code: string }).code).toBe('http_400');
  });

  it('honours Retry-After over a shorter jittered delay', async () => {
    t = await freshDatabase(kind);
    target = await startTarget();
    const clock = new ManualClock();
    const engine = testEngine(t.db, clock, { random: () => 0, env: { QUENCH_HTTP_ALLOWLIST: '127.0.0.1:*' } });
    const { createServer } = await import('node:http');
    let calls = 0;
    const server = createServer((_req, res) => {
      calls++;
      if (calls === 1) res.writeHead(429, { 'retry-after': '7' }).end();
      else res.writeHead(200).end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const pb = playbook('ra', [{ id: 'call', kind: 'action', action: 'http.request', params: { url: `http://127.0.0.1:${port}/x` } }]);
      const { runId } = await engine.startRun({ playbook: pb });
      const worker = engine.createWorker();
      await worker.drain();
      const step = (await engine.getRun(runId))!.steps[0]!;
      expect(step.wakeAt!.getTime() - clock.now().getTime()).toBe(7000);
      clock.advance(7000);
      await worker.drain();
      expect((await engine.getRun(runId))!.state).toBe('succeeded');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
