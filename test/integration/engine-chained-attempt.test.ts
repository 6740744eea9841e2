import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAction } from '../../src/actions/action.js';
import { ManualClock } from '../../src/core/clock.js';
import { StepError } from '../../src/engine/core/step-error.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';
import { playbook, testEngine } from './engine-harness.js';

/**
 * The first attempt of a chained action step starts in the transaction that records the
 * previous step's result (src/engine/chained-attempt.ts). Attacked here: it really is one
 * commit; the attempt row is there before the action is called; a takeover repeats that attempt
 * with the same key; and nothing decided before an attempt is skipped by starting it early — an
 * open breaker, parameters that do not validate, a false `when` spend no attempt.
 */

interface AttemptRow {
  attempt: number;
  status: string;
  idempotency_key: string;
  worker: string;
  takeovers: number;
}

const attemptsOf = (t: TestDatabase, runId: string, stepKey: string) =>
  t.db.rows<AttemptRow>(sql`select a.attempt, a.status, a.idempotency_key, a.worker, a.takeovers
    from engine_attempts a join engine_steps s on s.id = a.step_id
    where s.run_id = ${runId} and s.step_key = ${stepKey} order by a.attempt`);

type TestEngine = ReturnType<typeof testEngine>;

/** Runs a chaining worker (a drain never chains) until the run has ended. */
async function runToEnd(engine: TestEngine, runId: string, worker = 'w'): Promise<void> {
  const w = engine.createWorker(worker);
  await w.start();
  try {
    for (let i = 0; i < 500; i++) {
      const run = await engine.getRun(runId);
      if (run && !['pending', 'running', 'waiting', 'compensating'].includes(run.state)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`run ${runId} did not end`);
  } finally {
    await w.stop();
  }
}

describe.each(databaseKinds)('a chained action step starts its attempt with the previous result (%s)', (kind) => {
  let t: TestDatabase;
  afterEach(async () => {
    await t?.dispose();
  });

  it('one commit records the result and starts the next attempt, whose row the action already sees', async () => {
    t = await freshDatabase(kind);
    const clock = new ManualClock();
    const engine = testEngine(t.db, clock);
    const seen: AttemptRow[][] = [];
    const sameCommit: boolean[] = [];
    engine.actions.register(
      defineAction({
        name: 'test.look',
        changesState: false,
        params: z.strictObject({ from: z.string() }),
        async run(params, ctx) {
          // Another connection: only committed rows.
          seen.push(await attemptsOf(t, ctx.runId, ctx.stepKey));
          const [row] = await t.db.rows<{ same: boolean }>(sql`select
              (select s.xmin::text from engine_steps s where s.run_id = ${ctx.runId} and s.step_key = 'first') =
              (select a.xmin::text from engine_attempts a join engine_steps s on s.id = a.step_id where s.run_id = ${ctx.runId} and s.step_key = ${ctx.stepKey})
            as same`);
          sameCommit.push(row!.same);
          return { from: params.from, key: ctx.idempotencyKey, attempt: ctx.attempt };
        },
      }),
    );
    const pb = playbook('chained', [
      { id: 'first', kind: 'action', action: 'log', params: { message: 'first' } },
      { id: 'second', kind: 'action', action: 'test.look', params: { from: '${{ steps.first.output.message }}' } },
    ]);
    const { runId } = await engine.startRun({ playbook: pb });
    await runToEnd(engine, runId);
    const run = (await engine.getRun(runId))!;
    expect(run.state).toBe('succeeded');
    expect(run.steps[1]!.output).toEqual({ from: 'first', key: `${runId}:second`, attempt: 1 });
    expect(seen).toEqual([[expect.objectContaining({ attempt: 1, status: 'running', idempotency_key: `${runId}:second` })]]);
    // The transaction that recorded `first` (the last to write its row) inserted `second`'s attempt.
    expect(sameCommit).toEqual([true]);
    // The rendered parameters are kept on the step, as compensation templates read them.
    const [spec] = await t.db.rows<{ params: unknown }>(sql`select spec->'params' as params from engine_steps where run_id = ${runId} and step_key = 'second'`);
    expect(spec!.params).toEqual({ from: 'first' });
  });

  it('a worker that dies after that commit leaves the attempt to a takeover, which repeats it with the same key', async () => {
    t = await freshDatabase(kind);
    const clock = new ManualClock();
    const calls: Array<{ worker: string; attempt: number; key: string }> = [];
    let hang = true;
    const register = (engine: ReturnType<typeof testEngine>, worker: string) =>
      engine.actions.register(
        defineAction({
          name: 'test.once',
          changesState: true,
          params: z.strictObject({}),
          async run(_params, ctx) {
            calls.push({ worker, attempt: ctx.attempt, key: ctx.idempotencyKey });
            // The first worker does not answer until it is stopped at the end: as if its process
            // had died during the call.
            if (hang) await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }));
            return { done: true };
          },
        }),
      );
    const first = testEngine(t.db, clock, { options: { leaseMs: 10_000, heartbeatMs: 3_600_000 } });
    register(first, 'dies');
    const pb = playbook('takeover', [
      { id: 'before', kind: 'action', action: 'log', params: { message: 'before' } },
      { id: 'effect', kind: 'action', action: 'test.once', params: {}, compensate: { action: 'log', params: { message: 'undo' } } },
    ]);
    const { runId } = await first.startRun({ playbook: pb });
    const dying = first.createWorker('dies');
    await dying.start();
    for (let i = 0; i < 200 && calls.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(calls).toEqual([{ worker: 'dies', attempt: 1, key: `${runId}:effect` }]);
    expect(await attemptsOf(t, runId, 'effect')).toEqual([expect.objectContaining({ attempt: 1, status: 'running', takeovers: 0 })]);

    hang = false;
    clock.advance(10_001);
    const second = testEngine(t.db, clock, { options: { leaseMs: 10_000 } });
    register(second, 'takes over');
    await second.createWorker('takes over').drain();
    expect(calls[1]).toEqual({ worker: 'takes over', attempt: 1, key: `${runId}:effect` });
    expect(await attemptsOf(t, runId, 'effect')).toEqual([expect.objectContaining({ attempt: 1, status: 'succeeded', takeovers: 1 })]);
    expect((await second.getRun(runId))!.state).toBe('succeeded');
    // The first worker's call ends now; its claim was taken over, so it records nothing.
    await dying.stop();
    expect(await attemptsOf(t, runId, 'effect')).toEqual([expect.objectContaining({ attempt: 1, status: 'succeeded', takeovers: 1 })]);
    expect(calls).toHaveLength(2);
  });

  it('an open circuit breaker hands the chained step back without spending an attempt', async () => {
    t = await freshDatabase(kind);
    const clock = new ManualClock();
    const engine = testEngine(t.db, clock, { options: { breaker: { failureThreshold: 1, openMs: 60_000 } } });
    let called = 0;
    engine.actions.register(
      defineAction({
        name: 'test.down',
        changesState: false,
        params: z.strictObject({}),
        target: () => 'down-host',
        async run() {
          called++;
          throw new StepError('http_5xx', 'the target answered 503', { retryable: true });
        },
      }),
    );
    const once = { maxAttempts: 1, initialDelay: '1s', maxDelay: '1s' };
    const opener = playbook('opens', [{ id: 'call', kind: 'action', action: 'test.down', params: {}, retry: once }]);
    const worker = engine.createWorker('w');
    await engine.startRun({ playbook: opener });
    await worker.drain();
    expect(called).toBe(1); // the breaker is now open for a minute

    const chained = playbook('chained-into-open', [
      { id: 'first', kind: 'action', action: 'log', params: { message: 'first' } },
      { id: 'call', kind: 'action', action: 'test.down', params: {}, retry: once },
    ]);
    const { runId } = await engine.startRun({ playbook: chained });
    const chaining = engine.createWorker('chains');
    await chaining.start();
    try {
      for (let i = 0; i < 500; i++) {
        const call = (await engine.getRun(runId))!.steps.find((s) => s.key === 'call');
        if (call && call.status !== 'running') break;
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await chaining.stop();
    }
    expect(called).toBe(1);
    const step = (await engine.getRun(runId))!.steps.find((s) => s.key === 'call')!;
    expect(step.status).toBe('retry_wait');
    expect(await attemptsOf(t, runId, 'call')).toEqual([]);
  });

  it('parameters that do not validate and a false `when` spend no attempt either', async () => {
    t = await freshDatabase(kind);
    const clock = new ManualClock();
    const engine = testEngine(t.db, clock);
    engine.actions.register(
      defineAction({
        name: 'test.count',
        changesState: false,
        params: z.strictObject({ n: z.number() }),
        async run(params) {
          return { n: params.n };
        },
      }),
    );
    const pb = playbook('declined', [
      { id: 'first', kind: 'action', action: 'log', params: { message: 'first' } },
      { id: 'skipped', kind: 'action', action: 'test.count', params: { n: 1 }, when: 'size(run.events) > 0' },
      { id: 'bad', kind: 'action', action: 'test.count', params: { n: '${{ steps.first.output.message }}' } },
    ]);
    const { runId } = await engine.startRun({ playbook: pb });
    await runToEnd(engine, runId);
    const run = (await engine.getRun(runId))!;
    const byKey = Object.fromEntries(run.steps.map((s) => [s.key, s]));
    expect(Object.fromEntries(run.steps.map((s) => [s.key, s.status]))).toEqual({ first: 'succeeded', skipped: 'skipped', bad: 'failed' });
    expect(byKey.bad!.error).toMatchObject({ code: 'invalid_params' });
    expect(await attemptsOf(t, runId, 'skipped')).toEqual([]);
    expect(await attemptsOf(t, runId, 'bad')).toEqual([]);
  });
});
