import { sql } from 'drizzle-orm';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAction } from '../../src/actions/action.js';
import { createAuditTrail } from '../../src/audit/trail.js';
import { systemClock } from '../../src/core/clock.js';
import { StepError } from '../../src/engine/core/step-error.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';
import { faultyAudit } from './engine-faults.js';
import { attemptStartsOf, playbook, runsSettled, testEngine } from './engine-harness.js';

/**
 * The attempt of an action step that a commit claims for a slot (a recorded result chaining
 * its run's next step, or a run's start) is started in that commit (src/engine/prestart.ts).
 * These tests attack it: the attempt must be rendered on the run exactly as that commit leaves
 * it, roll back with it, and never be started where the executor would have decided otherwise
 * (an open breaker, parameters that do not validate, a `when`, a drill). Every case runs on
 * real workers: a drain never chains.
 */
interface AttemptRow {
  step_key: string;
  attempt: number;
  status: string;
  takeovers: number;
  idempotency_key: string;
}
const attemptsOf = (t: TestDatabase, runId: string) =>
  t.db.rows<AttemptRow>(
    sql`select s.step_key, a.attempt, a.status, a.takeovers, a.idempotency_key from engine_attempts a join engine_steps s on s.id = a.step_id
      where a.run_id = ${runId} order by s.created_at, a.attempt`,
  );

describe.each(databaseKinds)('attempts started by the commit that chains their step (%s)', (kind) => {
  let t: TestDatabase;
  afterEach(async () => {
    await t?.dispose();
  });

  it('renders the parameters on the run as the chaining commit leaves it, and stores them as the executor would', async () => {
    t = await freshDatabase(kind);
    const registry = new Registry();
    const engine = testEngine(t.db, systemClock, { registry, options: { concurrency: 4, pollMs: 60_000 } });
    const seen: Array<{ step: string; params: unknown; attempt: number; key: string }> = [];
    engine.actions.register(
      defineAction({
        name: 'test.echo',
        changesState: false,
        params: z.strictObject({ n: z.number(), prev: z.unknown() }),
        async run(params, ctx) {
          seen.push({ step: ctx.stepKey, params, attempt: ctx.attempt, key: ctx.idempotencyKey });
          return { n: params.n + 1, at: ctx.stepKey };
        },
      }),
    );
    const pb = playbook('prestart-render', [
      { id: 'a', kind: 'action', action: 'test.echo', params: { n: '${{ inputs.start }}', prev: null } },
      { id: 'b', kind: 'action', action: 'test.echo', params: { n: '${{ steps.a.output.n }}', prev: '${{ steps.a }}' } },
      { id: 'c', kind: 'action', action: 'test.echo', params: { n: '${{ steps.b.output.n * 10 }}', prev: '${{ steps.b.params }}' } },
    ], { inputs: { start: { type: 'integer', default: 1 } } });
    const worker = engine.createWorker('render');
    await worker.start();
    let runId: string;
    try {
      runId = (await engine.startRun({ playbook: pb, inputs: { start: 5 } })).runId;
      expect(await runsSettled(engine, [runId])).toEqual(['succeeded']);
    } finally {
      await worker.stop();
    }
    // What b saw of a is a as recorded: succeeded, its output, its stored parameters.
    expect(seen).toEqual([
      { step: 'a', params: { n: 5, prev: null }, attempt: 1, key: `${runId}:a` },
      { step: 'b', params: { n: 6, prev: { status: 'succeeded', output: { n: 6, at: 'a' }, params: { n: 5, prev: null }, error: null } }, attempt: 1, key: `${runId}:b` },
      { step: 'c', params: { n: 70, prev: { n: 6, prev: { status: 'succeeded', output: { n: 6, at: 'a' }, params: { n: 5, prev: null }, error: null } } }, attempt: 1, key: `${runId}:c` },
    ]);
    // Every attempt was started by the commit that claimed its step; each is attempt 1, no takeover.
    expect(await attemptStartsOf(registry)).toEqual({ own: 0, chained: 3 });
    expect((await attemptsOf(t, runId)).map((a) => [a.step_key, a.attempt, a.status, a.takeovers])).toEqual([
      ['a', 1, 'succeeded', 0],
      ['b', 1, 'succeeded', 0],
      ['c', 1, 'succeeded', 0],
    ]);
    // The stored parameters and deadlines are the ones an attempt of its own would write.
    const rows = await t.db.rows<{ step_key: string; attempts: number; params: unknown; has_deadline: boolean }>(
      sql`select step_key, attempts, spec->'params' as params, deadline_at is not null as has_deadline from engine_steps where run_id = ${runId} order by created_at`,
    );
    expect(rows.map((r) => [r.step_key, r.attempts, r.has_deadline])).toEqual([
      ['a', 1, true],
      ['b', 1, true],
      ['c', 1, true],
    ]);
    expect(rows.map((r) => r.params)).toEqual(seen.map((s) => s.params));
  });

  it('rolls back with a recording that fails: the retried recording chains no started attempt and the step starts its own, once', async () => {
    t = await freshDatabase(kind);
    const registry = new Registry();
    let failures = 0;
    // The first recording that creates `b` fails after its writes were queued (the audit append).
    const audit = faultyAudit(createAuditTrail(t.db, systemClock), (action) => action === 'step.created' && failures++ === 1);
    const engine = testEngine(t.db, systemClock, { registry, audit, options: { concurrency: 2, pollMs: 50, recordRetryMs: 5 } });
    const calls: string[] = [];
    engine.actions.register(
      defineAction({
        name: 'test.count',
        changesState: false,
        params: z.strictObject({}),
        async run(_p, ctx) {
          calls.push(ctx.stepKey);
          return {};
        },
      }),
    );
    const pb = playbook('prestart-rollback', [
      { id: 'a', kind: 'action', action: 'test.count', params: {} },
      { id: 'b', kind: 'action', action: 'test.count', params: {} },
    ]);
    const worker = engine.createWorker('rollback');
    await worker.start();
    let runId: string;
    try {
      runId = (await engine.startRun({ playbook: pb })).runId;
      expect(await runsSettled(engine, [runId])).toEqual(['succeeded']);
    } finally {
      await worker.stop();
    }
    expect(failures).toBeGreaterThan(1);
    expect(calls).toEqual(['a', 'b']);
    expect((await attemptsOf(t, runId)).map((a) => [a.step_key, a.attempt, a.status, a.takeovers])).toEqual([
      ['a', 1, 'succeeded', 0],
      ['b', 1, 'succeeded', 0],
    ]);
    // a's was started by the run's start; b's, after the failed try, by its own commit.
    expect(await attemptStartsOf(registry)).toEqual({ own: 1, chained: 1 });
    const [steps] = await t.db.rows<{ n: number }>(sql`select count(*)::int as n from engine_steps where run_id = ${runId}`);
    expect(steps!.n).toBe(2);
  });

  it('starts nothing behind a breaker that is not closed: the step is handed back without spending an attempt', async () => {
    t = await freshDatabase(kind);
    const registry = new Registry();
    const engine = testEngine(t.db, systemClock, {
      registry,
      options: { concurrency: 2, pollMs: 60_000, breaker: { failureThreshold: 1, openMs: 60_000 } },
    });
    const flaky: string[] = [];
    engine.actions.register(
      defineAction({
        name: 'test.ok',
        changesState: false,
        params: z.strictObject({}),
        async run() {
          return {};
        },
      }),
    );
    engine.actions.register(
      defineAction({
        name: 'test.down',
        changesState: false,
        params: z.strictObject({}),
        target: () => 'svc.down',
        async run(_p, ctx) {
          flaky.push(ctx.runId);
          throw new StepError('http_503', 'service unavailable', { retryable: true });
        },
      }),
    );
    const opener = playbook('prestart-open', [{ id: 'x', kind: 'action', action: 'test.down', params: {}, retry: { maxAttempts: 1 } }]);
    const chained = playbook('prestart-behind-breaker', [
      { id: 'a', kind: 'action', action: 'test.ok', params: {} },
      { id: 'b', kind: 'action', action: 'test.down', params: {} },
    ]);
    const worker = engine.createWorker('breaker');
    await worker.start();
    let runId: string;
    try {
      const first = (await engine.startRun({ playbook: opener })).runId;
      expect(await runsSettled(engine, [first])).toEqual(['failed']);
      runId = (await engine.startRun({ playbook: chained })).runId;
      // b is handed back as a retry wait until the breaker half-opens.
      for (let i = 0; i < 200; i++) {
        const [b] = await t.db.rows<{ status: string }>(sql`select status from engine_steps where run_id = ${runId} and step_key = 'b'`);
        if (b?.status === 'retry_wait') break;
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      await worker.stop();
    }
    const [b] = await t.db.rows<{ status: string; attempts: number }>(sql`select status, attempts from engine_steps where run_id = ${runId} and step_key = 'b'`);
    expect(b).toEqual({ status: 'retry_wait', attempts: 0 });
    expect((await attemptsOf(t, runId)).map((a) => a.step_key)).toEqual(['a']);
    expect(flaky).toHaveLength(1);
  });

  it('starts nothing for a step whose parameters do not validate, one with a `when`, or a drill: the executor decides those as before', async () => {
    t = await freshDatabase(kind);
    const registry = new Registry();
    const engine = testEngine(t.db, systemClock, { registry, options: { concurrency: 2, pollMs: 60_000 } });
    const calls: string[] = [];
    engine.actions.register(
      defineAction({
        name: 'test.num',
        changesState: false,
        params: z.strictObject({ n: z.number() }),
        async run(params, ctx) {
          calls.push(`${ctx.stepKey}:${params.n}:${ctx.drill}`);
          return { n: params.n };
        },
      }),
    );
    const invalid = playbook('prestart-invalid', [
      { id: 'a', kind: 'action', action: 'test.num', params: { n: 1 } },
      { id: 'b', kind: 'action', action: 'test.num', params: { n: '${{ steps.a.output.missing }}' } },
    ]);
    const guarded = playbook('prestart-when', [
      { id: 'a', kind: 'action', action: 'test.num', params: { n: 1 } },
      { id: 'b', kind: 'action', action: 'test.num', params: { n: 2 }, when: 'steps.a.output.n > 1' },
      { id: 'c', kind: 'action', action: 'test.num', params: { n: 3 }, when: 'steps.a.output.n == 1' },
    ]);
    const drilled = playbook('prestart-drill', [
      { id: 'a', kind: 'action', action: 'test.num', params: { n: 1 }, drillSafe: true },
      { id: 'b', kind: 'action', action: 'test.num', params: { n: 2 }, drillSafe: true },
    ]);
    const worker = engine.createWorker('decides');
    await worker.start();
    let ids: string[];
    try {
      ids = [
        (await engine.startRun({ playbook: invalid })).runId,
        (await engine.startRun({ playbook: guarded })).runId,
        (await engine.startRun({ playbook: drilled, drill: { fail: [] } })).runId,
      ];
      expect(await runsSettled(engine, ids)).toEqual(['failed', 'succeeded', 'succeeded']);
    } finally {
      await worker.stop();
    }
    const [invalidRun, guardedRun, drillRun] = ids;
    // The invalid step failed for good before any attempt, dead-lettered as the executor does.
    expect((await attemptsOf(t, invalidRun!)).map((a) => a.step_key)).toEqual(['a']);
    const letters = await engine.listDeadLetters();
    expect(letters.find((l) => l.runId === invalidRun)).toMatchObject({ stepKey: 'b', reason: 'non_retryable' });
    // b skipped by its `when`, c run by it; neither was started by the chaining commit.
    const guardedSteps = await t.db.rows<{ step_key: string; status: string; attempts: number }>(
      sql`select step_key, status, attempts from engine_steps where run_id = ${guardedRun} order by created_at`,
    );
    expect(guardedSteps).toEqual([
      { step_key: 'a', status: 'succeeded', attempts: 1 },
      { step_key: 'b', status: 'skipped', attempts: 0 },
      { step_key: 'c', status: 'succeeded', attempts: 1 },
    ]);
    expect(calls.filter((c) => c.endsWith(':true'))).toEqual(['a:1:true', 'b:2:true']);
    expect((await attemptsOf(t, drillRun!)).map((a) => [a.step_key, a.attempt])).toEqual([
      ['a', 1],
      ['b', 1],
    ]);
    // Chained: the invalid run's a, the guarded run's a. Own: c (after a skipped b), both drill steps.
    expect(await attemptStartsOf(registry)).toEqual({ chained: 2, own: 3 });
  });

  it('a started attempt that fails is retried by an attempt of its own, under the same key', async () => {
    t = await freshDatabase(kind);
    const registry = new Registry();
    const engine = testEngine(t.db, systemClock, { registry, random: () => 0, options: { concurrency: 2, pollMs: 20 } });
    const seen: Array<[string, number, string]> = [];
    engine.actions.register(
      defineAction({
        name: 'test.once-down',
        changesState: false,
        params: z.strictObject({}),
        async run(_p, ctx) {
          seen.push([ctx.stepKey, ctx.attempt, ctx.idempotencyKey]);
          if (ctx.stepKey === 'b' && ctx.attempt === 1) throw new StepError('http_503', 'try again', { retryable: true });
          return {};
        },
      }),
    );
    const pb = playbook('prestart-retry', [
      { id: 'a', kind: 'action', action: 'test.once-down', params: {} },
      { id: 'b', kind: 'action', action: 'test.once-down', params: {}, retry: { maxAttempts: 3, initialDelay: '1ms', maxDelay: '1ms' } },
    ]);
    const worker = engine.createWorker('retry');
    await worker.start();
    let runId: string;
    try {
      runId = (await engine.startRun({ playbook: pb })).runId;
      expect(await runsSettled(engine, [runId])).toEqual(['succeeded']);
    } finally {
      await worker.stop();
    }
    expect(seen).toEqual([
      ['a', 1, `${runId}:a`],
      ['b', 1, `${runId}:b`],
      ['b', 2, `${runId}:b`],
    ]);
    expect((await attemptsOf(t, runId)).map((a) => [a.step_key, a.attempt, a.status])).toEqual([
      ['a', 1, 'succeeded'],
      ['b', 1, 'failed'],
      ['b', 2, 'succeeded'],
    ]);
    expect(await attemptStartsOf(registry)).toEqual({ chained: 2, own: 1 });
  });
});
