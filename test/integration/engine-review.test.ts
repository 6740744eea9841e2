import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAction } from '../../src/actions/action.js';
import { createAuditTrail } from '../../src/audit/trail.js';
import { ManualClock, systemClock } from '../../src/core/clock.js';
import { isQuenchError } from '../../src/core/errors.js';
import type { HumanStepView } from '../../src/engine/notifier.js';
import { claimDueSteps } from '../../src/engine/sql/claim.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';
import { waitFor } from '../support/wait-for.js';
import { faultyAudit, faultyDatabase } from './engine-faults.js';
import { playbook, testEngine } from './engine-harness.js';
import { startTarget, type Target } from './engine-target.js';

/**
 * Regression tests for the defects of issue 10's review ("Defects found by review" 1–11), one
 * `describe` per defect. Each failed on the engine before its fix.
 */
const LEASE_MS = 30_000;
const ops = { type: 'user' as const, id: 'ops' };

describe.each(databaseKinds)('engine review defects on %s', (kind) => {
  let t: TestDatabase;
  let target: Target | undefined;
  afterEach(async () => {
    await target?.close();
    target = undefined;
    await t?.dispose();
  });

  const refusal = (p: Promise<unknown>) =>
    p.then(
      () => 'accepted',
      (e) => (isQuenchError(e) ? e.code : String(e)),
    );

  it('1: a signal that arrives while the wait step is claimed completes it', async () => {
    t = await freshDatabase(kind);
    const clock = new ManualClock();
    const { db, faults } = faultyDatabase(t.db);
    const engine = testEngine(db, clock);
    const ingest = testEngine(t.db, clock);
    const pb = playbook('resolve', [
      { id: 'resolved', kind: 'wait', until: { event: 'alert.resolved', onTimeout: 'fail' }, timeout: '1h' },
    ]);
    const { runId } = await engine.startRun({ playbook: pb, correlationId: 'c-1' });
    // The worker has read the run's events and is about to record `waiting`: the signal lands now.
    faults.beforeNextTransaction = async () => {
      await ingest.signal({ correlationId: 'c-1' }, { type: 'alert.resolved', payload: { key: 'k' } });
    };
    await engine.createWorker().drain();
    const run = (await engine.getRun(runId))!;
    expect(run.steps.map((s) => [s.key, s.status])).toEqual([['resolved', 'succeeded']]);
    expect(run.state).toBe('succeeded');
  });

  describe('2: an error while recording a success', () => {
    const counting = () => {
      const calls: string[] = [];
      const action = defineAction({
        name: 'test.effect',
        changesState: false,
        params: z.strictObject({ text: z.string() }),
        async run(params, ctx) {
          calls.push(ctx.idempotencyKey);
          // `~` stands for a NUL byte a target might answer with (a playbook cannot hold one).
          return { echoed: params.text.replaceAll('~', '\u0000') };
        },
      });
      return { calls, action };
    };

    it('an output PostgreSQL jsonb rejects (\\u0000) is sanitised and recorded', async () => {
      t = await freshDatabase(kind);
      const clock = new ManualClock();
      const engine = testEngine(t.db, clock);
      const { calls, action } = counting();
      engine.actions.register(action);
      const pb = playbook('nul', [{ id: 'effect', kind: 'action', action: 'test.effect', params: { text: 'a~b' } }]);
      const { runId } = await engine.startRun({ playbook: pb });
      await engine.createWorker().drain();
      const run = (await engine.getRun(runId))!;
      expect(run.state).toBe('succeeded');
      expect(calls).toHaveLength(1);
      expect(run.steps[0]!.output).toEqual({ echoed: 'a\uFFFDb' });
      expect(run.steps[0]!.attempts.map((a) => a.status)).toEqual(['succeeded']);
    });

    it('a failed audit append while recording is retried, not turned into a step failure', async () => {
      t = await freshDatabase(kind);
      const clock = new ManualClock();
      let failures = 1;
      const audit = faultyAudit(createAuditTrail(t.db, clock), (a) => a === 'step.succeeded' && failures-- > 0);
      const engine = testEngine(t.db, clock, { audit, options: { recordRetryMs: 10 } });
      const { calls, action } = counting();
      engine.actions.register(action);
      const pb = playbook('blip', [
        { id: 'effect', kind: 'action', action: 'test.effect', params: { text: 'x' } },
        { id: 'after', kind: 'action', action: 'log', params: { message: 'next' } },
      ]);
      const { runId } = await engine.startRun({ playbook: pb });
      await engine.createWorker().drain();
      const run = (await engine.getRun(runId))!;
      expect(run.state).toBe('succeeded');
      expect(calls).toHaveLength(1);
      expect(run.steps.map((s) => [s.key, s.status])).toEqual([
        ['effect', 'succeeded'],
        ['after', 'succeeded'],
      ]);
      expect(await engine.listDeadLetters()).toEqual([]);
    });

    it('a success that can never be recorded reaches the dead-letter table; no attempt is left running', async () => {
      t = await freshDatabase(kind);
      const clock = new ManualClock();
      const audit = faultyAudit(createAuditTrail(t.db, clock), (a) => a === 'step.succeeded');
      const engine = testEngine(t.db, clock, { audit, options: { recordRetryMs: 10 } });
      const { calls, action } = counting();
      engine.actions.register(action);
      const pb = playbook('never', [{ id: 'effect', kind: 'action', action: 'test.effect', params: { text: 'x' } }]);
      const { runId } = await engine.startRun({ playbook: pb });
      await engine.createWorker().drain();
      const run = (await engine.getRun(runId))!;
      expect(calls).toHaveLength(1);
      expect(run.steps[0]!.status).toBe('failed');
      expect(run.steps[0]!.attempts.map((a) => a.status)).toEqual(['succeeded']);
      const letters = await engine.listDeadLetters();
      expect(letters.map((l) => [l.stepKey, l.reason])).toEqual([['effect', 'result_unrecordable']]);
      expect((letters[0]!.context as { sideEffectDone?: boolean }).sideEffectDone).toBe(true);
    });
  });

  it('3: a parallel branch whose action completed while a sibling failed is undone', async () => {
    t = await freshDatabase(kind);
    target = await startTarget();
    target.script('/boom', [422]);
    const slow = target.hold('/do-slow');
    // The sibling fails only once the slow action is in flight: were its failure recorded first,
    // the slow step would rightly never start, and there would be nothing to undo.
    const boom = target.hold('/boom');
    const clock = new ManualClock();
    const engine = testEngine(t.db, clock, { env: { QUENCH_HTTP_ALLOWLIST: target.host } });
    const pb = playbook('fan', [
      {
        id: 'both',
        kind: 'parallel',
        branches: [
          {
            steps: [
              {
                id: 'slow',
                kind: 'action',
                action: 'http.request',
                params: { url: `${target.url}/do-slow` },
                compensate: { action: 'http.request', params: { url: `${target.url}/undo-slow` } },
              },
            ],
          },
          { steps: [{ id: 'boom', kind: 'action', action: 'http.request', params: { url: `${target.url}/boom` } }] },
        ],
      },
    ]);
    const { runId } = await engine.startRun({ playbook: pb });
    const worker = engine.createWorker();
    const draining = worker.drain();
    await Promise.all([slow.received, boom.received]);
    boom.release();
    await waitFor('the failing branch to be recorded', async () =>
      (await engine.getRun(runId))!.steps.some((s) => s.key === 'boom' && s.status === 'failed'),
    );
    slow.release();
    await draining;
    await worker.drain();
    const run = (await engine.getRun(runId))!;
    expect(target.applied.map((r) => r.path)).toEqual(['/do-slow', '/undo-slow']);
    expect(run.steps.find((s) => s.key === 'slow')!.status).toBe('succeeded');
    expect(run.state).toBe('compensated');
  });

  it('4: one idempotency key per step execution, across retries and dead-letter re-drives', async () => {
    t = await freshDatabase(kind);
    target = await startTarget();
    target.script('/flaky', [503, 200]);
    target.script('/down', [503]);
    const clock = new ManualClock();
    const engine = testEngine(t.db, clock, { env: { QUENCH_HTTP_ALLOWLIST: target.host } });
    const worker = engine.createWorker();
    const pb = playbook('keys', [
      {
        id: 'flaky',
        kind: 'action',
        action: 'http.request',
        params: { url: `${target.url}/flaky` },
        retry: { maxAttempts: 3, initialDelay: '1s', maxDelay: '1s' },
      },
      {
        id: 'down',
        kind: 'action',
        action: 'http.request',
        params: { url: `${target.url}/down` },
        retry: { maxAttempts: 1, initialDelay: '1s', maxDelay: '1s' },
      },
    ]);
    const { runId } = await engine.startRun({ playbook: pb });
    await worker.drain();
    clock.advance(2_000);
    await worker.drain();
    expect((await engine.getRun(runId))!.state).toBe('failed');
    target.script('/down', [200]);
    const [letter] = await engine.listDeadLetters();
    await engine.retryDeadLetter(letter!.id, ops);
    await worker.drain();
    expect((await engine.getRun(runId))!.state).toBe('succeeded');
    const sent = target.requests.map((r) => [r.path, r.key, r.attempt]);
    expect(sent).toEqual([
      ['/flaky', `${runId}:flaky`, '1'],
      ['/flaky', `${runId}:flaky`, '2'],
      ['/down', `${runId}:down`, '1'],
      ['/down', `${runId}:down`, '2'],
    ]);
    const run = (await engine.getRun(runId))!;
    expect(run.steps.flatMap((s) => s.attempts.map((a) => a.idempotencyKey))).toEqual([
      `${runId}:flaky`,
      `${runId}:flaky`,
      `${runId}:down`,
      `${runId}:down`,
    ]);
  });

  it('5: steps that meet an open circuit breaker reach their step deadline and the dead-letter table', async () => {
    t = await freshDatabase(kind);
    target = await startTarget();
    target.script('/down', [503]);
    const clock = new ManualClock();
    const engine = testEngine(t.db, clock, {
      env: { QUENCH_HTTP_ALLOWLIST: target.host },
      options: { breaker: { failureThreshold: 1, openMs: 10 * 3_600_000 }, stepTimeoutMs: 3_600_000 },
    });
    const worker = engine.createWorker();
    const pb = playbook('breaker', [
      {
        id: 'call',
        kind: 'action',
        action: 'http.request',
        params: { url: `${target.url}/down` },
        retry: { maxAttempts: 1, initialDelay: '1s', maxDelay: '1s' },
      },
    ]);
    const first = await engine.startRun({ playbook: pb });
    await worker.drain();
    expect((await engine.getRun(first.runId))!.state).toBe('failed');
    // The breaker is open for ten hours; this run's step must not wait longer than its hour.
    const second = await engine.startRun({ playbook: pb });
    await worker.drain();
    expect((await engine.getRun(second.runId))!.steps[0]!.status).toBe('retry_wait');
    clock.advance(3_600_000 + 1);
    await worker.drain();
    const run = (await engine.getRun(second.runId))!;
    expect(run.steps[0]!.status).toBe('failed');
    expect(run.state).toBe('failed');
    expect(target.requests).toHaveLength(1);
    const letters = (await engine.listDeadLetters()).filter((l) => l.runId === second.runId);
    expect(letters.map((l) => l.reason)).toEqual(['step_deadline']);
  });

  it('5: a half-open probe whose claim is lost does not block its target', async () => {
    t = await freshDatabase(kind);
    target = await startTarget();
    target.script('/down', [503]);
    const probe = target.hold('/probe');
    const clock = new ManualClock();
    const engine = testEngine(t.db, clock, {
      env: { QUENCH_HTTP_ALLOWLIST: target.host },
      options: { breaker: { failureThreshold: 1, openMs: 1_000 }, heartbeatMs: 20 },
    });
    const worker = engine.createWorker();
    const once = { maxAttempts: 1, initialDelay: '1s', maxDelay: '1s' };
    const call = (path: string) =>
      playbook(`breaker${path.replace('/', '-')}`, [
        { id: 'call', kind: 'action', action: 'http.request', params: { url: `${target!.url}${path}` }, retry: once },
      ]);
    await engine.startRun({ playbook: call('/down') });
    await worker.drain();
    clock.advance(1_000);
    // The probe is in flight when its run is cancelled: the lease is lost, no outcome is recorded.
    const probing = await engine.startRun({ playbook: call('/probe') });
    const draining = worker.drain();
    await probe.received;
    await engine.cancel(probing.runId, ops, 'stop');
    await draining;
    probe.release();
    const next = await engine.startRun({ playbook: call('/up') });
    await worker.drain();
    expect((await engine.getRun(next.runId))!.state).toBe('succeeded');
  });

  it('6: after a takeover, timers keep their due time, `when` is not judged again, no second notification', async () => {
    t = await freshDatabase(kind);
    const clock = new ManualClock();
    const engine = testEngine(t.db, clock, { options: { leaseMs: LEASE_MS } });
    const seen: HumanStepView[] = [];
    engine.setNotifier({ waiting: async (v) => void seen.push(v), closed: async () => {} });
    const worker = engine.createWorker();
    const human = playbook('gate', [
      { id: 'gate', kind: 'human', type: 'approve', prompt: 'Go?', timeout: '1h', when: 'size(run.events) == 0' },
    ]);
    const timer = playbook('timer', [{ id: 'pause', kind: 'wait', duration: '1h' }]);
    const a = await engine.startRun({ playbook: human });
    const b = await engine.startRun({ playbook: timer });
    await worker.drain();
    expect(seen).toHaveLength(1);
    await engine.signal({ runId: a.runId }, { type: 'note', payload: {} });
    clock.advance(3_600_000);
    // A worker claims both due timers and dies before recording anything.
    expect(await claimDueSteps(t.db, 'dead', clock.now(), LEASE_MS, 10)).toHaveLength(2);
    clock.advance(LEASE_MS + 1);
    await worker.drain();
    const runA = (await engine.getRun(a.runId))!;
    expect(runA.steps.map((s) => [s.key, s.status, (s.error as { code?: string } | null)?.code])).toEqual([
      ['gate', 'failed', 'human_timeout'],
    ]);
    const runB = (await engine.getRun(b.runId))!;
    expect(runB.state).toBe('succeeded');
    expect(seen).toHaveLength(1);
  });

  it('7: approving the manual step of a failed undo resumes the older undos', async () => {
    t = await freshDatabase(kind);
    target = await startTarget();
    target.script('/boom', [422]);
    target.script('/undo-c', [422]);
    const clock = new ManualClock();
    const engine = testEngine(t.db, clock, { env: { QUENCH_HTTP_ALLOWLIST: target.host } });
    const worker = engine.createWorker();
    const pb = playbook('saga', [
      ...['a', 'b', 'c'].map((id) => ({
        id,
        kind: 'action' as const,
        action: 'http.request',
        params: { url: `${target!.url}/do-${id}` },
        compensate: { action: 'http.request', params: { url: `${target!.url}/undo-${id}` } },
      })),
      { id: 'boom', kind: 'action', action: 'http.request', params: { url: `${target.url}/boom` } },
    ]);
    const { runId } = await engine.startRun({ playbook: pb });
    await worker.drain();
    let run = (await engine.getRun(runId))!;
    expect(run.state).toBe('compensation_failed');
    const manual = run.steps.find((s) => s.key === 'c/compensate/manual')!;
    expect(manual.status).toBe('waiting');
    await engine.decide(manual.id, { outcome: 'approve', comment: 'undid c by hand' }, ops);
    await worker.drain();
    run = (await engine.getRun(runId))!;
    expect(target.applied.map((r) => r.path)).toEqual(['/do-a', '/do-b', '/do-c', '/undo-b', '/undo-a']);
    expect(Object.fromEntries(run.steps.map((s) => [s.key, s.status]))).toEqual({
      a: 'succeeded',
      b: 'succeeded',
      c: 'succeeded',
      boom: 'failed',
      'c/compensate': 'failed',
      'c/compensate/manual': 'succeeded',
      'b/compensate': 'succeeded',
      'a/compensate': 'succeeded',
    });
    expect(run.state).toBe('compensated');
  });

  it('8: a process never runs one attempt twice at once, even when its heartbeats fail past the lease', async () => {
    t = await freshDatabase(kind);
    const clock = new ManualClock();
    const { db, faults } = faultyDatabase(t.db);
    const engine = testEngine(db, clock, { options: { leaseMs: LEASE_MS, pollMs: 20, heartbeatMs: 20 } });
    let active = 0;
    let maxActive = 0;
    const keys: string[] = [];
    let finish!: () => void;
    const finished = new Promise<void>((r) => (finish = r));
    engine.actions.register(
      defineAction({
        name: 'test.slow',
        changesState: false,
        params: z.strictObject({}),
        async run(_p, ctx) {
          active++;
          maxActive = Math.max(maxActive, active);
          keys.push(ctx.idempotencyKey);
          try {
            await new Promise<void>((resolve, reject) => {
              void finished.then(resolve);
              ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
            });
            return { done: true };
          } finally {
            active--;
          }
        },
      }),
    );
    const { runId } = await engine.startRun({ playbook: playbook('slow', [{ id: 'slow', kind: 'action', action: 'test.slow', params: {} }]) });
    const worker = engine.createWorker();
    await worker.start();
    try {
      await waitFor('the action to start', async () => keys.length === 1);
      // The database is away for longer than the lease: heartbeats fail, the lease expires.
      faults.failUpdates = true;
      clock.advance(LEASE_MS + 1);
      await waitFor('the attempt to be resumed', async () => keys.length === 2 && active === 1);
      faults.failUpdates = false;
      finish();
      await waitFor('the run to finish', async () => (await engine.getRun(runId))!.state === 'succeeded');
    } finally {
      faults.failUpdates = false;
      finish();
      await worker.stop(1_000);
    }
    expect(maxActive).toBe(1);
    expect(new Set(keys).size).toBe(1);
    const attempts = (await engine.getRun(runId))!.steps[0]!.attempts;
    expect(attempts.map((a) => [a.attempt, a.status, a.takeovers])).toEqual([[1, 'succeeded', 1]]);
  });

  it('8: cancelling a run closes its attempts in flight (none is left running)', async () => {
    t = await freshDatabase(kind);
    target = await startTarget();
    const held = target.hold('/slow');
    const clock = new ManualClock();
    const engine = testEngine(t.db, clock, { env: { QUENCH_HTTP_ALLOWLIST: target.host } });
    const { runId } = await engine.startRun({
      playbook: playbook('cancel', [{ id: 'slow', kind: 'action', action: 'http.request', params: { url: `${target.url}/slow` } }]),
    });
    const draining = engine.createWorker().drain();
    await held.received;
    await engine.cancel(runId, ops, 'stop');
    held.release();
    await draining;
    const run = (await engine.getRun(runId))!;
    expect(run.state).toBe('cancelled');
    expect(run.steps[0]!.attempts.map((a) => a.status)).toEqual(['cancelled']);
  });

  describe('9: dead-letter gaps', () => {
    it('expression errors, invalid snapshots, human and wait timeouts reach the dead-letter table', async () => {
      t = await freshDatabase(kind);
      const clock = new ManualClock();
      const engine = testEngine(t.db, clock);
      const worker = engine.createWorker();
      const expr = await engine.startRun({
        playbook: playbook('expr', [{ id: 'bad', kind: 'action', action: 'log', params: { message: 'x' }, when: 'run.id' }]),
      });
      const human = await engine.startRun({
        playbook: playbook('human', [{ id: 'ask', kind: 'human', type: 'approve', prompt: 'ok?', timeout: '10m' }]),
      });
      const wait = await engine.startRun({
        playbook: playbook('wait', [{ id: 'hold', kind: 'wait', until: { event: 'alert.resolved', onTimeout: 'fail' }, timeout: '10m' }]),
      });
      const snap = await engine.startRun({
        playbook: playbook('snap', [{ id: 'first', kind: 'action', action: 'log', params: { message: 'x' } }]),
      });
      await t.db.rows(sql`update engine_runs set definition = jsonb_set(definition, '{metadata,owner}', '"mallory"') where id = ${snap.runId}`);
      await worker.drain();
      clock.advance(10 * 60_000 + 1);
      await worker.drain();
      const letters = await engine.listDeadLetters();
      const byRun = new Map(letters.map((l) => [l.runId, [l.stepKey, l.reason, (l.error as { code: string }).code]]));
      expect(byRun.get(expr.runId)?.slice(0, 2)).toEqual(['bad', 'non_retryable']);
      expect(byRun.get(human.runId)).toEqual(['ask', 'timeout', 'human_timeout']);
      expect(byRun.get(wait.runId)).toEqual(['hold', 'timeout', 'wait_timeout']);
      expect(byRun.get(snap.runId)).toEqual(['first', 'non_retryable', 'snapshot_invalid']);
      expect(letters).toHaveLength(4);
    });

    it('re-driving the failed branch of a parallel run finishes the run', async () => {
      t = await freshDatabase(kind);
      target = await startTarget();
      target.script('/boom', [422]);
      const clock = new ManualClock();
      const engine = testEngine(t.db, clock, { env: { QUENCH_HTTP_ALLOWLIST: target.host } });
      const worker = engine.createWorker();
      const pb = playbook('fan', [
        {
          id: 'both',
          kind: 'parallel',
          branches: [
            { steps: [{ id: 'boom', kind: 'action', action: 'http.request', params: { url: `${target.url}/boom` } }] },
            { steps: [{ id: 'ask', kind: 'human', type: 'approve', prompt: 'ok?' }] },
          ],
        },
        { id: 'after', kind: 'action', action: 'log', params: { message: 'joined' } },
      ]);
      const { runId } = await engine.startRun({ playbook: pb });
      await worker.drain();
      expect((await engine.getRun(runId))!.state).toBe('failed');
      target.script('/boom', [200]);
      const [letter] = await engine.listDeadLetters();
      await engine.retryDeadLetter(letter!.id, ops);
      await worker.drain();
      let run = (await engine.getRun(runId))!;
      const ask = run.steps.find((s) => s.key === 'ask')!;
      expect([run.state, ask.status]).toEqual(['waiting', 'waiting']);
      await engine.decide(ask.id, { outcome: 'approve' }, ops);
      await worker.drain();
      run = (await engine.getRun(runId))!;
      expect(Object.fromEntries(run.steps.map((s) => [s.key, s.status]))).toEqual({
        both: 'succeeded',
        boom: 'succeeded',
        ask: 'succeeded',
        after: 'succeeded',
      });
      expect(run.state).toBe('succeeded');
    });
  });

  describe('10: every read of a run definition checks its pin', () => {
    it('a decision on an altered snapshot is refused', async () => {
      t = await freshDatabase(kind);
      const clock = new ManualClock();
      const engine = testEngine(t.db, clock);
      const seen: HumanStepView[] = [];
      engine.setNotifier({ waiting: async (v) => void seen.push(v), closed: async () => {} });
      const pb = playbook('four-eyes', [{ id: 'go', kind: 'human', type: 'approve', prompt: 'Fail over?', risk: 'high' }]);
      const { runId } = await engine.startRun({ playbook: pb });
      await engine.createWorker().drain();
      await t.db.rows(sql`update engine_runs set definition = jsonb_set(definition, '{steps,0,risk}', '"low"') where id = ${runId}`);
      expect(await refusal(engine.decide(seen[0]!.stepId, { outcome: 'approve' }, ops))).toBe('conflict');
      expect((await engine.getRun(runId))!.steps[0]!.status).toBe('waiting');
    });

    it('a signal does not match waits through an altered snapshot', async () => {
      t = await freshDatabase(kind);
      const clock = new ManualClock();
      const engine = testEngine(t.db, clock);
      const pb = playbook('match', [
        { id: 'hold', kind: 'wait', until: { event: 'alert.resolved', match: 'event.key == "k1"' }, timeout: '1h' },
      ]);
      const { runId } = await engine.startRun({ playbook: pb, correlationId: 'c-10' });
      await engine.createWorker().drain();
      await t.db.rows(
        sql`update engine_runs set definition = jsonb_set(definition, '{steps,0,until,match}', '"true"') where id = ${runId}`,
      );
      const result = await engine.signal({ correlationId: 'c-10' }, { type: 'alert.resolved', payload: { key: 'other' } });
      expect(result.completedSteps).toEqual([]);
      expect((await engine.getRun(runId))!.steps[0]!.status).toBe('waiting');
    });

    it('a transition does not follow an altered snapshot', async () => {
      t = await freshDatabase(kind);
      const clock = new ManualClock();
      const { db, faults } = faultyDatabase(t.db);
      const engine = testEngine(db, clock);
      const pb = playbook('next', [
        { id: 'first', kind: 'action', action: 'log', params: { message: 'one' } },
        { id: 'second', kind: 'action', action: 'log', params: { message: 'two' } },
      ]);
      const { runId } = await engine.startRun({ playbook: pb });
      // Altered after the executor verified the snapshot, before the result is recorded.
      faults.beforeNextTransaction = async () => {
        await t.db.rows(
          sql`update engine_runs set definition = jsonb_set(definition, '{steps,1,params,message}', '"evil"') where id = ${runId}`,
        );
      };
      await engine.createWorker().drain();
      const run = (await engine.getRun(runId))!;
      expect(run.steps.map((s) => s.key)).toEqual(['first']);
      expect(run.state).toBe('failed');
      expect((await engine.listDeadLetters()).map((l) => [l.stepKey, (l.error as { code: string }).code])).toEqual([
        ['first', 'snapshot_invalid'],
      ]);
    });
  });

  it('11: a replica whose clock runs ahead does not take over live leases', async () => {
    t = await freshDatabase(kind);
    target = await startTarget();
    const held = target.hold('/slow');
    const env = { QUENCH_HTTP_ALLOWLIST: target.host };
    const live = testEngine(t.db, systemClock, { env, options: { leaseMs: LEASE_MS, leaseClock: 'database' } });
    const ahead = testEngine(t.db, new ManualClock(Date.now() + 3_600_000), { env, options: { leaseMs: LEASE_MS, leaseClock: 'database' } });
    const { runId } = await live.startRun({
      playbook: playbook('lease', [{ id: 'slow', kind: 'action', action: 'http.request', params: { url: `${target.url}/slow` } }]),
    });
    const running = live.createWorker().drain();
    await held.received;
    expect(await ahead.createWorker().drain()).toBe(0);
    held.release();
    await running;
    expect(target.requests).toHaveLength(1);
    expect((await live.getRun(runId))!.state).toBe('succeeded');
  });
});
