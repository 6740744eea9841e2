import {
  type Context,
  context,
  type ContextManager,
  INVALID_SPAN_CONTEXT,
  ROOT_CONTEXT,
  type Span,
  type SpanOptions,
  trace,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { sql } from 'drizzle-orm';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAction } from '../../src/actions/action.js';
import { type AuditTrail, createAuditTrail } from '../../src/audit/trail.js';
import { type Clock, ManualClock, systemClock } from '../../src/core/clock.js';
import type { Engine } from '../../src/engine/engine.js';
import { StepError } from '../../src/engine/core/step-error.js';
import type { TriggerEvent } from '../../src/triggers/event.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';
import { attemptStartsOf, playbook, testEngine } from './engine-harness.js';

/**
 * Attacks on the attempt a claiming commit starts (src/engine/prestart.ts, 7108e6f), by an
 * independent reviewer. Every case runs on real started workers (a drain never chains); where a
 * case compares, the same playbook is also run through `worker.drain()`, which never chains and so
 * never prestarts: the path every step took before 7108e6f.
 *
 * The window between the claiming commit and the action call is reached through the step's
 * tracing span (`quench.step`, opened by the executor right before it either calls the prestarted
 * attempt or starts its own): a global OpenTelemetry context manager below runs a hook when that
 * span's function is entered, before the function itself. Nothing in the engine is replaced.
 *
 * Failing on the version attacked (367cf32, prestart from 7108e6f), on PGlite and PostgreSQL:
 *   - a start with a free slot throws (the run is never created) for first-step parameters the
 *     prestart cannot store or target: a lone surrogate, a target() that throws, a BigInt;
 *   - with recordTries 1, such a chained step turns the previous step's success into a failure;
 *   - a prestarted first step whose snapshot is refused leaves its attempt `running` for ever;
 *   - a cancel (onCancel: compensate) landing before a prestarted step's call: the call is made
 *     and its effect is never undone (the own start was fenced and made no call);
 * and two pre-existing ones the prestart does not change: a step whose parameters render a lone
 * surrogate crashes on every claim instead of failing; a worker's stop grace does not abort a
 * call that begins after it.
 */

// --- a hook in the executor's `quench.step` span ---------------------------------------------

type SpanAttributes = Record<string, unknown>;
const spanInfo = new WeakMap<Span, { name: string; attributes: SpanAttributes }>();
/** Runs (and is awaited) before the function of a span named `name`; undefined: go on at once. */
let onSpan: ((name: string, attributes: SpanAttributes) => Promise<void> | undefined) | undefined;

const hookTracer = {
  startSpan(name: string, options?: SpanOptions): Span {
    const span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
    spanInfo.set(span, { name, attributes: { ...(options?.attributes ?? {}) } });
    return span;
  },
} as unknown as Tracer;
const hookProvider: TracerProvider = { getTracer: () => hookTracer };
const hookContexts: ContextManager = {
  active: () => ROOT_CONTEXT,
  with(ctx: Context, fn: (...args: unknown[]) => unknown, thisArg?: unknown, ...args: unknown[]) {
    const span = trace.getSpan(ctx);
    const info = span && spanInfo.get(span);
    const hook = info && onSpan?.(info.name, info.attributes);
    if (hook) return hook.then(() => fn.apply(thisArg, args));
    return fn.apply(thisArg, args);
  },
  bind: <T>(_ctx: Context, target: T) => target,
  enable() {
    return this;
  },
  disable() {
    return this;
  },
} as unknown as ContextManager;

/** The hook for one step key's `quench.step` span (each step of a run enters it once per execution). */
const beforeStep = (key: string, hook: (runId: string) => Promise<void>) => {
  onSpan = (name, attributes) => (name === 'quench.step' && attributes['quench.step.key'] === key ? hook(String(attributes['quench.run.id'])) : undefined);
};

// --- helpers ---------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ops = { type: 'user', id: 'ops' } as const;
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'compensated', 'compensation_failed']);

/** The runs' states once every one is terminal, or as they are after `ms`. */
async function settled(engine: Engine, ids: string[], ms = 20_000): Promise<string[]> {
  const until = Date.now() + ms;
  for (;;) {
    const states = await Promise.all(ids.map(async (id) => (await engine.getRun(id))!.state));
    if (states.every((s) => TERMINAL.has(s)) || Date.now() > until) return states;
    await sleep(20);
  }
}

async function until(what: () => Promise<boolean> | boolean, ms = 20_000): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await what()) return true;
    if (Date.now() > end) return false;
    await sleep(20);
  }
}

interface Call {
  run: string;
  step: string;
  attempt: number;
  key: string;
  params: unknown;
}

interface AttemptRow {
  step_key: string;
  attempt: number;
  status: string;
  takeovers: number;
  idempotency_key: string;
  worker: string;
}
const attemptsOf = (t: TestDatabase, runId: string) =>
  t.db.rows<AttemptRow>(
    sql`select s.step_key, a.attempt, a.status, a.takeovers, a.idempotency_key, a.worker from engine_attempts a join engine_steps s on s.id = a.step_id
      where a.run_id = ${runId} order by s.step_key, a.attempt`,
  );
const stepsOf = (t: TestDatabase, runId: string) =>
  t.db.rows<{ step_key: string; status: string; attempts: number; lease_owner: string | null }>(
    sql`select step_key, status, attempts, lease_owner from engine_steps where run_id = ${runId} order by step_key`,
  );

/**
 * A run's stored rows, attempts and audit entries with its ids replaced by names (`<run>`,
 * `<corr>`, `<step:key>`), so two runs of the same playbook compare equal when only ids differ.
 */
async function footprint(t: TestDatabase, trail: AuditTrail, runId: string) {
  const [run] = await t.db.rows<Record<string, unknown>>(
    sql`select state, playbook, inputs, trigger, error, created_at, updated_at, ended_at, correlation_id from engine_runs where id = ${runId}`,
  );
  const steps = await t.db.rows<Record<string, unknown>>(sql`select * from engine_steps where run_id = ${runId} order by step_key`);
  const attempts = await t.db.rows<Record<string, unknown>>(
    sql`select s.step_key, a.attempt, a.status, a.takeovers, a.idempotency_key, a.worker, a.output, a.error, a.started_at, a.ended_at
      from engine_attempts a join engine_steps s on s.id = a.step_id where a.run_id = ${runId} order by s.step_key, a.attempt`,
  );
  const letters = await t.db.rows<Record<string, unknown>>(
    sql`select step_key, action, attempts, reason, error, context, created_at from engine_dead_letters where run_id = ${runId} order by step_key`,
  );
  await trail.flush();
  const corr = String(run!.correlation_id);
  const audit = (await trail.page({ limit: 5_000 }))
    .filter((e) => e.correlationId === corr)
    .map((e) => ({ at: e.at, actor: e.actor, action: e.action, subject: e.subject, data: e.data }));
  const names: Array<[string, string]> = [
    [runId, '<run>'],
    [corr, '<corr>'],
    ...steps.map((s) => [String(s.id), `<step:${String(s.step_key)}>`] as [string, string]),
  ];
  const named = (value: unknown) => {
    let text = JSON.stringify(value);
    for (const [id, name] of names) text = text.replaceAll(id, name);
    return JSON.parse(text) as unknown;
  };
  return {
    run: named(run),
    steps: named(steps.map(({ id: _id, run_id: _run, ...rest }) => rest)),
    attempts: named(attempts),
    letters: named(letters),
    audit: named(audit),
  };
}

function alert(clock: Clock, key: string): TriggerEvent {
  return {
    source: 'test',
    type: 'alert.firing',
    key,
    summary: `alert ${key}`,
    labels: { service: 'checkout', key },
    annotations: {},
    occurredAt: clock.now(),
    resolved: false,
  };
}

beforeAll(() => {
  expect(trace.setGlobalTracerProvider(hookProvider)).toBe(true);
  expect(context.setGlobalContextManager(hookContexts)).toBe(true);
});
afterAll(() => {
  trace.disable();
  context.disable();
});

describe.each(databaseKinds)('prestart attacks (%s)', (kind) => {
  let t: TestDatabase | undefined;
  afterEach(async () => {
    onSpan = undefined;
    await t?.dispose();
    t = undefined;
  });

  // --- parity -----------------------------------------------------------------------------------

  it('parity: a run whose attempts the claiming commits started leaves the rows, attempts, audit and calls of the same run drained', async () => {
    t = await freshDatabase(kind);
    const clock = new ManualClock();
    const registry = new Registry();
    const trail = createAuditTrail(t.db, clock);
    const engine = testEngine(t.db, clock, {
      registry,
      audit: trail,
      random: () => 0,
      env: { PARITY_TOKEN: 'tok-1' },
      options: { concurrency: 2, pollMs: 60_000 },
    });
    const calls: Call[] = [];
    engine.actions.register(
      defineAction({
        name: 'test.rec',
        changesState: false,
        params: z.record(z.string(), z.unknown()),
        async run(params, ctx) {
          // Each call takes a second of the test's clock: steps created by successive results get
          // distinct created_at (a recording that cannot place its created row strictly last reads
          // the run instead of building it, and then prestarts nothing: transition.ts rowsAfter).
          clock.advance(1_000);
          calls.push({ run: ctx.runId, step: ctx.stepKey, attempt: ctx.attempt, key: ctx.idempotencyKey, params });
          // An event delivered while a runs: b renders run.events.
          if (ctx.stepKey === 'a') await engine.attachAlert(ctx.runId, alert(clock, `second-${ctx.runId}`));
          // e's first attempt hangs past its attempt timeout (50 ms).
          if (ctx.stepKey === 'e' && ctx.attempt === 1)
            await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true }));
          return { n: Number(params.n ?? 0) + 1, zeta: 1, alpha: { b: 2, a: 1 } };
        },
      }),
    );
    const pb = playbook(
      'prestart-parity',
      [
        {
          id: 'a',
          kind: 'action',
          action: 'test.rec',
          params: {
            n: '${{ inputs.start }}',
            svc: '${{ trigger.labels.service }}',
            run: '${{ run.id }}',
            corr: '${{ run.correlationId }}',
            tok: '${{ env.PARITY_TOKEN }}',
            self: '${{ steps.a.params }}',
            startedAt: '${{ run.startedAt }}',
            events: '${{ run.events.map(e, e.type) }}',
            text: 'start ${{ inputs.start }} for ${{ trigger.key }}',
          },
        },
        {
          id: 'b',
          kind: 'action',
          action: 'test.rec',
          params: {
            n: '${{ steps.a.output.n }}',
            prev: '${{ steps.a.params }}',
            out: '${{ steps.a.output }}',
            events: '${{ run.events.map(e, e.type) }}',
            self: '${{ steps.b.params }}',
          },
        },
        { id: 'c', kind: 'action', action: 'test.rec', params: { n: 0 }, when: 'steps.b.output.n > 100' },
        { id: 'd', kind: 'action', action: 'test.rec', params: { n: '${{ steps.b.output.n }}', c: '${{ steps.c.status }}', tok: '${{ env.PARITY_TOKEN }}' } },
        {
          id: 'e',
          kind: 'action',
          action: 'test.rec',
          params: { n: '${{ steps.d.output.n }}', self: '${{ steps.e.params }}' },
          timeout: '50ms',
          retry: { maxAttempts: 3, initialDelay: '1ms', maxDelay: '1ms' },
        },
        { id: 'f', kind: 'action', action: 'log', params: { message: 'done at ${{ steps.e.output.n }}' } },
      ],
      { env: ['PARITY_TOKEN'], inputs: { start: { type: 'integer' } } },
    );

    // Prestarted: a started worker, so the start and every result chain the next step to the slot.
    const T0 = clock.now();
    const worker = engine.createWorker('w');
    await worker.start();
    let chained: string;
    try {
      chained = (await engine.startRun({ playbook: pb, inputs: { start: 3 }, trigger: alert(clock, 'first'), correlationId: 'corr-chained' })).runId;
      expect(await settled(engine, [chained])).toEqual(['succeeded']);
    } finally {
      await worker.stop();
    }
    const afterChained = await attemptStartsOf(registry);
    // Six attempts (a, b, d, e#1, e#2, f). a (the start), b, e#1 and f were started by the commits
    // that claimed them; d was created by c's skip at c's own created_at (no call advanced the
    // clock), so that recording read the run and prestarted nothing; e#2 is a retry.
    expect(afterChained).toEqual({ chained: 4, own: 2 });

    // The same run, drained, on the same clock: nothing chains, every attempt is started by the executor itself.
    clock.set(T0);
    const drained = (await engine.startRun({ playbook: pb, inputs: { start: 3 }, trigger: alert(clock, 'first'), correlationId: 'corr-drained' })).runId;
    await engine.createWorker('w').drain();
    expect(await settled(engine, [drained])).toEqual(['succeeded']);
    expect(await attemptStartsOf(registry)).toEqual({ chained: 4, own: 8 });

    const a = await footprint(t, trail, chained);
    const b = await footprint(t, trail, drained);
    const named = (run: string, c: Call[]) =>
      JSON.parse(JSON.stringify(c.filter((x) => x.run === run).map(({ run: _run, ...rest }) => rest)).replaceAll(run, '<run>').replaceAll(`corr-${run === chained ? 'chained' : 'drained'}`, '<corr>'));
    expect(named(chained, calls)).toEqual(named(drained, calls));
    expect(a.run).toEqual(b.run);
    expect(a.steps).toEqual(b.steps);
    expect(a.attempts).toEqual(b.attempts);
    expect(a.letters).toEqual(b.letters);
    expect(a.audit).toEqual(b.audit);
    // What the calls were, for the record: b saw a's event and a's stored parameters.
    const bCall = calls.find((c) => c.run === chained && c.step === 'b')!;
    expect(bCall.params).toMatchObject({ events: ['alert.attached'], prev: { n: 3, tok: 'tok-1', self: null } });
  });

  it('parity: the undo of a prestarted step renders the parameters its prestart stored, as a drained run does', async () => {
    t = await freshDatabase(kind);
    const clock = new ManualClock();
    const trail = createAuditTrail(t.db, clock);
    const engine = testEngine(t.db, clock, { audit: trail, options: { concurrency: 2, pollMs: 60_000 } });
    const calls: Call[] = [];
    const record = (name: string, changesState: boolean, fail = false) =>
      defineAction({
        name,
        changesState,
        params: z.record(z.string(), z.unknown()),
        async run(params, ctx) {
          calls.push({ run: ctx.runId, step: ctx.stepKey, attempt: ctx.attempt, key: ctx.idempotencyKey, params });
          if (fail) throw new StepError('http_422', 'refused (injected)', { retryable: false });
          return { id: `${ctx.stepKey}-${String(params.x)}` };
        },
      });
    engine.actions.register(record('test.do', true));
    engine.actions.register(record('test.undo', true));
    engine.actions.register(record('test.boom', true, true));
    const undo = (id: string) => ({ action: 'test.undo', params: { x: `\${{ steps.${id}.params.x }}`, made: `\${{ steps.${id}.output.id }}` } });
    const pb = playbook(
      'prestart-undo',
      [
        { id: 'a', kind: 'action', action: 'test.do', params: { x: '${{ inputs.x }}' }, compensate: undo('a') },
        { id: 'b', kind: 'action', action: 'test.do', params: { x: '${{ steps.a.output.id }}' }, compensate: undo('b') },
        { id: 'c', kind: 'action', action: 'test.boom', params: { x: '${{ steps.b.output.id }}' } },
      ],
      { inputs: { x: { type: 'string' } } },
    );
    const worker = engine.createWorker('w');
    await worker.start();
    let chained: string;
    try {
      chained = (await engine.startRun({ playbook: pb, inputs: { x: 'seed' }, correlationId: 'corr-chained' })).runId;
      expect(await settled(engine, [chained])).toEqual(['compensated']);
    } finally {
      await worker.stop();
    }
    const drained = (await engine.startRun({ playbook: pb, inputs: { x: 'seed' }, correlationId: 'corr-drained' })).runId;
    await engine.createWorker('w').drain();
    expect(await settled(engine, [drained])).toEqual(['compensated']);
    const undos = (run: string) => calls.filter((c) => c.run === run && c.step.endsWith('/compensate')).map((c) => [c.step, c.params]);
    expect(undos(chained)).toEqual([
      ['b/compensate', { x: 'a-seed', made: 'b-a-seed' }],
      ['a/compensate', { x: 'seed', made: 'a-seed' }],
    ]);
    expect(undos(drained)).toEqual(undos(chained));
    const a = await footprint(t, trail, chained);
    const b = await footprint(t, trail, drained);
    expect(a.steps).toEqual(b.steps);
    expect(a.attempts).toEqual(b.attempts);
    expect(a.letters).toEqual(b.letters);
    expect(a.audit).toEqual(b.audit);
  });

  // --- parameters the database refuses ---------------------------------------------------------

  it('a start with a free worker slot does not fail where a start without one succeeds: parameters jsonb refuses, a target() that throws, a BigInt', async () => {
    t = await freshDatabase(kind);
    const engine = testEngine(t.db, systemClock, { options: { concurrency: 4, pollMs: 60_000 } });
    // A custom action whose breaker target is derived from its parameters, and one whose schema coerces to BigInt.
    engine.actions.register(
      defineAction({
        name: 'test.hook',
        changesState: false,
        params: z.strictObject({ url: z.string() }),
        target: (p) => `http:${new URL(p.url).host}`,
        async run() {
          return {};
        },
      }),
    );
    engine.actions.register(
      defineAction({
        name: 'test.big',
        changesState: false,
        params: z.strictObject({ n: z.coerce.bigint() }),
        async run() {
          return {};
        },
      }),
    );
    const cases = {
      // Truncating a summary that holds an emoji cuts its surrogate pair in half: '😀'.substring(0, 1).
      surrogate: playbook('prestart-start-surrogate', [{ id: 'a', kind: 'action', action: 'log', params: { message: '${{ inputs.s.substring(0, 1) }}' } }], {
        inputs: { s: { type: 'string' } },
      }),
      target: playbook('prestart-start-target', [{ id: 'a', kind: 'action', action: 'test.hook', params: { url: '${{ inputs.s }}' } }], {
        inputs: { s: { type: 'string' } },
      }),
      bigint: playbook('prestart-start-bigint', [{ id: 'a', kind: 'action', action: 'test.big', params: { n: '${{ inputs.s.size() }}' } }], {
        inputs: { s: { type: 'string' } },
      }),
    };
    const start = (pb: (typeof cases)['surrogate']) =>
      engine.startRun({ playbook: pb, inputs: { s: '😀 checkout is down' } }).then(
        (r) => ({ ok: true as const, state: r.state }),
        (err: unknown) => ({ ok: false as const, error: (err as Error).message }),
      );
    // No started worker (the CLI, a replica that only serves): every start commits, its step left ready.
    for (const pb of Object.values(cases)) expect(await start(pb)).toEqual({ ok: true, state: 'running' });
    const worker = engine.createWorker('w');
    await worker.start();
    try {
      // The same starts with a free slot: the first step's attempt is started in the start's commit.
      for (const [name, pb] of Object.entries(cases)) expect.soft({ [name]: await start(pb) }).toEqual({ [name]: { ok: true, state: 'running' } });
    } finally {
      await worker.stop(200);
    }
  });

  it('a step whose parameters render a lone surrogate fails for good (invalid_params) like one that renders a NUL, instead of crashing on every claim (pre-existing)', async () => {
    t = await freshDatabase(kind);
    const clock = new ManualClock();
    const engine = testEngine(t.db, clock, { options: { leaseMs: 1_000 } });
    const pb = playbook('surrogate-step', [{ id: 'a', kind: 'action', action: 'log', params: { message: '${{ inputs.s.substring(0, 1) }}' } }], {
      inputs: { s: { type: 'string' } },
    });
    const { runId } = await engine.startRun({ playbook: pb, inputs: { s: '😀' } });
    const worker = engine.createWorker('w');
    // Three claims, each a lease apart: the step should not still be running after the first.
    const crashes: string[] = [];
    for (let i = 0; i < 3; i++) {
      await worker.drain().catch((err: unknown) => crashes.push((err as Error).message));
      clock.advance(1_001);
    }
    // Today every claim crashes on the attempt start (jsonb refuses the parameters), for ever.
    expect.soft(crashes).toEqual([]);
    const letters = await engine.listDeadLetters();
    expect.soft(await stepsOf(t, runId)).toEqual([expect.objectContaining({ step_key: 'a', status: 'failed' })]);
    expect(letters.find((l) => l.runId === runId)).toMatchObject({ stepKey: 'a', reason: 'non_retryable' });
  });

  it('a chained step whose parameters jsonb refuses never keeps the previous result from being recorded, alone or in a group of runs', async () => {
    t = await freshDatabase(kind);
    const registry = new Registry();
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(String((JSON.parse(line) as { msg?: string }).msg)) });
    const engine = testEngine(t.db, systemClock, { registry, logger, options: { concurrency: 8, pollMs: 50, recordRetryMs: 5 } });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let waiting = 0;
    const calls: Call[] = [];
    engine.actions.register(
      defineAction({
        name: 'test.together',
        changesState: false,
        params: z.strictObject({ s: z.string() }),
        async run(params, ctx) {
          calls.push({ run: ctx.runId, step: ctx.stepKey, attempt: ctx.attempt, key: ctx.idempotencyKey, params });
          if (ctx.stepKey === 'a') {
            waiting++;
            await gate;
          }
          return { s: params.s };
        },
      }),
    );
    const pb = playbook(
      'prestart-surrogate-group',
      [
        { id: 'a', kind: 'action', action: 'test.together', params: { s: '${{ inputs.s }}' } },
        { id: 'b', kind: 'action', action: 'test.together', params: { s: '${{ steps.a.output.s.substring(0, 1) }}' } },
      ],
      { inputs: { s: { type: 'string' } } },
    );
    const worker = engine.createWorker('w');
    await worker.start();
    const ids: string[] = [];
    let bad: string;
    try {
      // Seven good runs and one whose b renders half an emoji; their a's finish at the same moment,
      // so their results are recorded in groups (group-commits.ts).
      for (let i = 0; i < 7; i++) ids.push((await engine.startRun({ playbook: pb, inputs: { s: `ok-${i}` } })).runId);
      bad = (await engine.startRun({ playbook: pb, inputs: { s: '😀' } })).runId;
      expect(await until(() => waiting === 8)).toBe(true);
      release();
      expect(await settled(engine, ids)).toEqual(ids.map(() => 'succeeded'));
      // The bad run's a succeeded and is recorded; its b is what the executor makes of it.
      expect(await until(async () => (await stepsOf(t!, bad)).find((s) => s.step_key === 'a')?.status === 'succeeded')).toBe(true);
    } finally {
      await worker.stop(200);
    }
    for (const id of ids) {
      expect((await attemptsOf(t, id)).map((a) => [a.step_key, a.attempt, a.status, a.takeovers])).toEqual([
        ['a', 1, 'succeeded', 0],
        ['b', 1, 'succeeded', 0],
      ]);
      expect(calls.filter((c) => c.run === id).map((c) => c.step)).toEqual(['a', 'b']);
    }
    // The prestart refuses b's parameters before sending anything (resolveCall: storageProblem),
    // so no recording try failed; the executor then fails b for good, as it fails a NUL.
    expect(warnings).not.toContain('recording a step result failed; retrying');
    expect((await attemptStartsOf(registry)).chained).toBe(7 + 7 + 1);
    expect((await attemptsOf(t, bad)).map((a) => [a.step_key, a.attempt, a.status])).toEqual([['a', 1, 'succeeded']]);
    expect(calls.filter((c) => c.run === bad).map((c) => c.step)).toEqual(['a']);
    const letter = (await engine.listDeadLetters()).find((l) => l.runId === bad);
    expect(letter).toMatchObject({ stepKey: 'b', reason: 'non_retryable' });
    expect((letter!.error as { code: string; message: string }).message).toMatch(/unpaired UTF-16 surrogate/);
  });

  it('a recording whose prestart fails is not dead-lettered result_unrecordable, even with a single recording try', async () => {
    t = await freshDatabase(kind);
    const engine = testEngine(t.db, systemClock, { options: { concurrency: 2, pollMs: 50, recordTries: 1 } });
    const calls: string[] = [];
    engine.actions.register(
      defineAction({
        name: 'test.emoji',
        changesState: false,
        params: z.strictObject({ s: z.string() }),
        async run(params, ctx) {
          calls.push(ctx.stepKey);
          return { s: params.s };
        },
      }),
    );
    const pb = playbook('prestart-one-try', [
      { id: 'a', kind: 'action', action: 'test.emoji', params: { s: '😀' } },
      { id: 'b', kind: 'action', action: 'test.emoji', params: { s: '${{ steps.a.output.s.substring(0, 1) }}' } },
    ]);
    const worker = engine.createWorker('w');
    await worker.start();
    let runId: string;
    try {
      runId = (await engine.startRun({ playbook: pb })).runId;
      await until(async () => (await stepsOf(t!, runId)).some((s) => s.step_key === 'a' && s.status !== 'running'), 5_000);
    } finally {
      await worker.stop(200);
    }
    // ARCHITECTURE.md: "only a result's first try does it, so a failing start never keeps the
    // result from being recorded". With one try, that first try is the only one.
    expect((await stepsOf(t, runId)).find((s) => s.step_key === 'a')).toMatchObject({ status: 'succeeded' });
    // b's parameters fail b for good (invalid_params), never a's result.
    const letters = (await engine.listDeadLetters()).filter((l) => l.runId === runId);
    expect(letters.map((l) => [l.stepKey, l.reason])).toEqual([['b', 'non_retryable']]);
  });

  it('a prestarted first step whose run snapshot is refused when it runs: the step and run fail, and no attempt is left running', async () => {
    t = await freshDatabase(kind);
    const db = t.db;
    const trail = createAuditTrail(db, systemClock);
    // The run's snapshot is altered in place (same recorded hash, other content) in the start's own
    // transaction, after the run row was inserted: the state a tamper committed right after the
    // start leaves (the run row as the start returned it, the executor's read finds it altered).
    const audit = new Proxy(trail, {
      get(target, prop) {
        if (prop === 'appendMany') {
          return async (...args: Parameters<AuditTrail['appendMany']>) => {
            const started = args[0].find((e) => e.action === 'run.started');
            if (started && args[1])
              await db.rows(sql`update engine_runs set definition = jsonb_set(definition, '{metadata,owner}', '"mallory"') where id = ${started.subject.id}`, args[1]);
            return target.appendMany(...args);
          };
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const engine = testEngine(db, systemClock, { audit, options: { concurrency: 2, pollMs: 60_000 } });
    const calls: string[] = [];
    engine.actions.register(
      defineAction({
        name: 'test.rec',
        changesState: false,
        params: z.strictObject({}),
        async run(_p, ctx) {
          calls.push(ctx.stepKey);
          return {};
        },
      }),
    );
    const pb = playbook(`prestart-tampered-${kind}`, [{ id: 'a', kind: 'action', action: 'test.rec', params: {} }]);
    const worker = engine.createWorker('w');
    await worker.start();
    let runId: string;
    try {
      runId = (await engine.startRun({ playbook: pb })).runId;
      expect(await settled(engine, [runId])).toEqual(['failed']);
    } finally {
      await worker.stop();
    }
    expect(calls).toEqual([]);
    const letter = (await engine.listDeadLetters()).find((l) => l.runId === runId);
    expect(letter).toMatchObject({ stepKey: 'a', error: { code: 'snapshot_invalid' } });
    expect(await stepsOf(t, runId)).toEqual([{ step_key: 'a', status: 'failed', attempts: expect.any(Number), lease_owner: null }]);
    // Invariant 10: no attempt stays `running` for ever. Before 7108e6f the step had no attempt here.
    expect((await attemptsOf(t, runId)).filter((a) => a.status === 'running')).toEqual([]);
  });

  // --- the window between the claiming commit and the call -------------------------------------

  it('a cancel that commits between the chaining commit and the call: the run stays cancelled, the attempt is closed, the result is fenced', async () => {
    t = await freshDatabase(kind);
    const trail = createAuditTrail(t.db, systemClock);
    const engine = testEngine(t.db, systemClock, { audit: trail, options: { concurrency: 2, pollMs: 60_000 } });
    const calls: Call[] = [];
    engine.actions.register(
      defineAction({
        name: 'test.rec',
        changesState: false,
        params: z.strictObject({}),
        async run(params, ctx) {
          calls.push({ run: ctx.runId, step: ctx.stepKey, attempt: ctx.attempt, key: ctx.idempotencyKey, params });
          return { ok: true };
        },
      }),
    );
    const pb = playbook('prestart-cancel', [
      { id: 'a', kind: 'action', action: 'test.rec', params: {} },
      { id: 'b', kind: 'action', action: 'test.rec', params: {} },
      { id: 'c', kind: 'action', action: 'test.rec', params: {} },
    ]);
    let cancelled = 0;
    beforeStep('b', async (runId) => {
      await engine.cancel(runId, ops, 'stop it');
      cancelled++;
    });
    const worker = engine.createWorker('w');
    await worker.start();
    let runId: string;
    try {
      runId = (await engine.startRun({ playbook: pb })).runId;
      expect(await settled(engine, [runId])).toEqual(['cancelled']);
      // b's call, if any, has come back and been fenced.
      await until(async () => (await attemptsOf(t!, runId)).every((a) => a.status !== 'running'), 5_000);
      await sleep(200);
    } finally {
      await worker.stop();
    }
    expect(cancelled).toBe(1);
    expect((await engine.getRun(runId))!.state).toBe('cancelled');
    expect(await stepsOf(t, runId)).toEqual([
      { step_key: 'a', status: 'succeeded', attempts: 1, lease_owner: null },
      { step_key: 'b', status: 'cancelled', attempts: 1, lease_owner: null },
    ]);
    // The prestarted attempt is closed by the cancel and not reopened by the fenced result.
    expect((await attemptsOf(t, runId)).map((a) => [a.step_key, a.attempt, a.status])).toEqual([
      ['a', 1, 'succeeded'],
      ['b', 1, 'cancelled'],
    ]);
    await trail.flush();
    const actions = (await trail.page({ limit: 1_000 })).filter((e) => (e.data as { run?: string }).run === runId || e.subject.id === runId).map((e) => e.action);
    // a's success only: b's fenced result wrote nothing.
    expect(actions.filter((a) => a === 'step.succeeded')).toHaveLength(1);
    expect(actions.at(-1)).toBe('run.cancelled');
  });

  it('a cancel (onCancel: compensate) that commits before a chained step is called: no effect is left undone, as on the path without prestart', async () => {
    t = await freshDatabase(kind);
    const engine = testEngine(t.db, systemClock, { options: { concurrency: 2, pollMs: 50 } });
    const effects: Array<[string, string]> = [];
    const undone: Array<[string, string]> = [];
    engine.actions.register(
      defineAction({
        name: 'test.effect',
        changesState: true,
        params: z.strictObject({}),
        async run(_p, ctx) {
          effects.push([ctx.runId, ctx.stepKey]);
          return {};
        },
      }),
    );
    engine.actions.register(
      defineAction({
        name: 'test.unEffect',
        changesState: true,
        params: z.strictObject({ of: z.string() }),
        async run(params, ctx) {
          undone.push([ctx.runId, params.of]);
          return {};
        },
      }),
    );
    const step = (id: string) => ({ id, kind: 'action' as const, action: 'test.effect', params: {}, compensate: { action: 'test.unEffect', params: { of: id } } });
    const pb = playbook('prestart-cancel-undo', [step('a'), step('b'), step('c')], { onCancel: 'compensate' });
    beforeStep('b', async (runId) => {
      await engine.cancel(runId, ops, 'stop and undo');
    });
    // Without prestart (a drain claims and starts every step itself): the cancel fences b's start.
    const drained = (await engine.startRun({ playbook: pb })).runId;
    await engine.createWorker('d').drain();
    expect(await settled(engine, [drained])).toEqual(['compensated']);
    // With prestart: b's attempt was started by a's recording.
    // Chained but not prestarted (b's `when` leaves its start to the executor, as every start was before 7108e6f).
    const pbOwn = playbook('prestart-cancel-undo-own', [step('a'), { ...step('b'), when: 'true' }, step('c')], { onCancel: 'compensate' });
    const worker = engine.createWorker('w');
    await worker.start();
    let chained: string;
    let own: string;
    try {
      own = (await engine.startRun({ playbook: pbOwn })).runId;
      expect(await settled(engine, [own])).toEqual(['compensated']);
      chained = (await engine.startRun({ playbook: pb })).runId;
      expect(await settled(engine, [chained])).toEqual(['compensated']);
      await sleep(300);
    } finally {
      await worker.stop();
    }
    const of = (run: string, list: Array<[string, string]>) => list.filter(([r]) => r === run).map(([, s]) => s);
    expect(of(drained, effects)).toEqual(['a']);
    expect(of(drained, undone)).toEqual(['a']);
    expect(of(own, effects)).toEqual(['a']);
    expect(of(own, undone)).toEqual(['a']);
    // Every effect that happened is undone (the undo sees every completed effect).
    expect({ effects: of(chained, effects), undone: of(chained, undone).reverse() }).toEqual({ effects: of(chained, effects), undone: of(chained, effects) });
  });

  it('a slot that dies between the chaining commit and the call: the step is taken over once, same attempt and key, the action called once', async () => {
    t = await freshDatabase(kind);
    const engine = testEngine(t.db, systemClock, { options: { concurrency: 2, pollMs: 50, leaseMs: 30_000 } });
    const replica = testEngine(t.db, systemClock, { options: { concurrency: 2, pollMs: 50, leaseMs: 30_000 } });
    const calls: Call[] = [];
    for (const e of [engine, replica])
      e.actions.register(
        defineAction({
          name: 'test.rec',
          changesState: false,
          params: z.strictObject({}),
          async run(params, ctx) {
            calls.push({ run: ctx.runId, step: ctx.stepKey, attempt: ctx.attempt, key: ctx.idempotencyKey, params });
            return {};
          },
        }),
      );
    const pb = playbook('prestart-slot-dies', [
      { id: 'a', kind: 'action', action: 'test.rec', params: {} },
      { id: 'b', kind: 'action', action: 'test.rec', params: {} },
    ]);
    let died = 0;
    beforeStep('b', async () => {
      if (died++ === 0) throw new Error('the slot died here (injected)');
    });
    const worker = engine.createWorker('dies');
    await worker.start();
    let runId: string;
    try {
      runId = (await engine.startRun({ playbook: pb })).runId;
      expect(await until(() => died === 1)).toBe(true);
    } finally {
      // A graceful stop hands the leased b back at once.
      await worker.stop();
    }
    const other = replica.createWorker('other');
    await other.start();
    try {
      expect(await settled(replica, [runId])).toEqual(['succeeded']);
    } finally {
      await other.stop();
    }
    expect(calls.map((c) => [c.step, c.attempt, c.key])).toEqual([
      ['a', 1, `${runId}:a`],
      ['b', 1, `${runId}:b`],
    ]);
    expect((await attemptsOf(t, runId)).map((a) => [a.step_key, a.attempt, a.status, a.takeovers, a.worker])).toEqual([
      ['a', 1, 'succeeded', 0, 'dies'],
      ['b', 1, 'succeeded', 1, 'other'],
    ]);
  });

  it('a worker stopping between the chaining commit and the call does not call the action after its grace has passed (pre-existing: the own start does not either check)', async () => {
    t = await freshDatabase(kind);
    const engine = testEngine(t.db, systemClock, { options: { concurrency: 2, pollMs: 60_000, leaseMs: 30_000 } });
    const calls: Array<{ step: string; at: number; aborted: boolean }> = [];
    // The stop is "within its grace" when it returns well before an unaborted call of b could end:
    // the slack covers the hook's sleep and the hand-back's statements on a loaded machine (CI once
    // took over a second for them), and stays far below CALL_MS.
    const CALL_MS = 20_000;
    const STOP_SLACK_MS = 8_000;
    engine.actions.register(
      defineAction({
        name: 'test.slow',
        changesState: false,
        params: z.strictObject({}),
        async run(_p, ctx) {
          const call = { step: ctx.stepKey, at: Date.now(), aborted: false };
          calls.push(call);
          if (ctx.stepKey === 'b') {
            // Far longer than the stop may take, unless aborted: a stop that waited for this call
            // cannot pass for a slow one.
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, CALL_MS);
              ctx.signal.addEventListener('abort', () => {
                call.aborted = true;
                clearTimeout(timer);
                resolve();
              });
            });
          }
          return {};
        },
      }),
    );
    const prestarted = playbook('prestart-stop', [
      { id: 'a', kind: 'action', action: 'test.slow', params: {} },
      { id: 'b', kind: 'action', action: 'test.slow', params: {} },
    ]);
    // The same with b started by the executor itself (its `when`): the path before 7108e6f.
    const own = playbook('prestart-stop-own', [
      { id: 'a', kind: 'action', action: 'test.slow', params: {} },
      { id: 'b', kind: 'action', action: 'test.slow', params: {}, when: 'true' },
    ]);
    const GRACE = 100;
    const outcome: Record<string, { calledAfterGrace: boolean; aborted: boolean; stopWithinGrace: boolean }> = {};
    for (const [name, pb] of Object.entries({ prestarted, own })) {
      calls.length = 0;
      let stopping!: () => void;
      const stopRequested = new Promise<void>((r) => (stopping = r));
      // b is claimed (and, prestarted, started) by a's recording; the worker is told to stop, and its grace passes, before the call.
      beforeStep('b', async () => {
        stopping();
        await sleep(GRACE + 200);
      });
      const worker = engine.createWorker(`w-${name}`);
      await worker.start();
      await engine.startRun({ playbook: pb });
      await stopRequested;
      const stopAt = Date.now();
      await worker.stop(GRACE);
      const b = calls.find((c) => c.step === 'b');
      outcome[name] = { calledAfterGrace: b !== undefined && b.at >= stopAt + GRACE, aborted: b?.aborted ?? false, stopWithinGrace: Date.now() - stopAt < GRACE + STOP_SLACK_MS };
    }
    // Both paths alike: b is called after the stop's grace passed, not aborted, and the stop waits for it.
    expect(outcome.own).toEqual(outcome.prestarted);
    // What a stop promises: no call begun after the grace runs unaborted; the stop keeps its grace.
    const kept = (o: (typeof outcome)[string]) => ({ unabortedCallAfterGrace: o.calledAfterGrace && !o.aborted, stopWithinGrace: o.stopWithinGrace });
    expect(kept(outcome.prestarted!)).toEqual({ unabortedCallAfterGrace: false, stopWithinGrace: true });
  });

  // --- more runs, more branches ------------------------------------------------------------------

  it('parallel branches finishing together, over several runs: every chained step renders its own branch, once, attempt 1', async () => {
    t = await freshDatabase(kind);
    const registry = new Registry();
    const engine = testEngine(t.db, systemClock, { registry, options: { concurrency: 8, pollMs: 50 } });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let waiting = 0;
    const calls: Call[] = [];
    engine.actions.register(
      defineAction({
        name: 'test.branch',
        changesState: false,
        params: z.strictObject({ v: z.string(), seen: z.unknown() }),
        async run(params, ctx) {
          calls.push({ run: ctx.runId, step: ctx.stepKey, attempt: ctx.attempt, key: ctx.idempotencyKey, params });
          if (ctx.stepKey === 'x1' || ctx.stepKey === 'y1') {
            waiting++;
            await gate;
          }
          return { v: `${params.v}>${ctx.stepKey}` };
        },
      }),
    );
    const pb = playbook(
      'prestart-parallel',
      [
        {
          id: 'p',
          kind: 'parallel',
          branches: [
            {
              steps: [
                { id: 'x1', kind: 'action', action: 'test.branch', params: { v: '${{ inputs.v }}', seen: null } },
                { id: 'x2', kind: 'action', action: 'test.branch', params: { v: '${{ steps.x1.output.v }}', seen: '${{ steps.x1.params }}' } },
              ],
            },
            {
              steps: [
                { id: 'y1', kind: 'action', action: 'test.branch', params: { v: '${{ inputs.v }}', seen: null } },
                { id: 'y2', kind: 'action', action: 'test.branch', params: { v: '${{ steps.y1.output.v }}', seen: '${{ steps.y1.params }}' } },
              ],
            },
          ],
        },
        { id: 'z', kind: 'action', action: 'test.branch', params: { v: '${{ steps.x2.output.v }}|${{ steps.y2.output.v }}', seen: null } },
      ],
      { inputs: { v: { type: 'string' } } },
    );
    const worker = engine.createWorker('w');
    await worker.start();
    const ids: string[] = [];
    try {
      for (let i = 0; i < 4; i++) ids.push((await engine.startRun({ playbook: pb, inputs: { v: `r${i}` } })).runId);
      expect(await until(() => waiting === 8)).toBe(true);
      release();
      expect(await settled(engine, ids)).toEqual(ids.map(() => 'succeeded'));
    } finally {
      await worker.stop();
    }
    for (const [i, id] of ids.entries()) {
      const mine = calls.filter((c) => c.run === id);
      expect(mine.map((c) => c.step).sort()).toEqual(['x1', 'x2', 'y1', 'y2', 'z']);
      const params = Object.fromEntries(mine.map((c) => [c.step, c.params]));
      expect(params.x2).toEqual({ v: `r${i}>x1`, seen: { v: `r${i}`, seen: null } });
      expect(params.y2).toEqual({ v: `r${i}>y1`, seen: { v: `r${i}`, seen: null } });
      expect(params.z).toEqual({ v: `r${i}>x1>x2|r${i}>y1>y2`, seen: null });
      expect((await attemptsOf(t, id)).map((a) => [a.step_key, a.attempt, a.status, a.takeovers, a.idempotency_key])).toEqual(
        ['x1', 'x2', 'y1', 'y2', 'z'].map((k) => [k, 1, 'succeeded', 0, `${id}:${k}`]),
      );
    }
    // Some x2 / y2 were started by the commit that recorded x1 / y1 (a second branch's result in
    // the same millisecond creates its row at the first one's created_at: that recording reads the
    // run and prestarts nothing, transition.ts rowsAfter).
    expect((await attemptStartsOf(registry)).chained).toBeGreaterThan(0);
  });

  it('a dead-letter re-drive of a prestarted step continues its attempt numbers under the same key, and its success prestarts the next step', async () => {
    t = await freshDatabase(kind);
    const registry = new Registry();
    const engine = testEngine(t.db, systemClock, { registry, options: { concurrency: 2, pollMs: 50 } });
    const calls: Call[] = [];
    let refuse = true;
    engine.actions.register(
      defineAction({
        name: 'test.once-refused',
        changesState: false,
        params: z.strictObject({ n: z.number() }),
        async run(params, ctx) {
          calls.push({ run: ctx.runId, step: ctx.stepKey, attempt: ctx.attempt, key: ctx.idempotencyKey, params });
          if (ctx.stepKey === 'b' && refuse) throw new StepError('http_400', 'refused (injected)', { retryable: false });
          return { n: params.n + 1 };
        },
      }),
    );
    const pb = playbook('prestart-dlq', [
      { id: 'a', kind: 'action', action: 'test.once-refused', params: { n: 1 } },
      { id: 'b', kind: 'action', action: 'test.once-refused', params: { n: '${{ steps.a.output.n }}' } },
      { id: 'c', kind: 'action', action: 'test.once-refused', params: { n: '${{ steps.b.output.n }}' } },
    ]);
    const worker = engine.createWorker('w');
    await worker.start();
    let runId: string;
    try {
      runId = (await engine.startRun({ playbook: pb })).runId;
      expect(await settled(engine, [runId])).toEqual(['failed']);
      const letter = (await engine.listDeadLetters()).find((l) => l.runId === runId)!;
      expect(letter).toMatchObject({ stepKey: 'b', attempts: 1, reason: 'non_retryable' });
      expect(letter.context).toMatchObject({ params: { n: 2 }, attempts: 1, idempotencyKey: `${runId}:b` });
      refuse = false;
      await engine.retryDeadLetter(letter.id, ops);
      expect(await settled(engine, [runId])).toEqual(['succeeded']);
    } finally {
      await worker.stop();
    }
    expect(calls.map((c) => [c.step, c.attempt, c.key, c.params])).toEqual([
      ['a', 1, `${runId}:a`, { n: 1 }],
      ['b', 1, `${runId}:b`, { n: 2 }],
      ['b', 2, `${runId}:b`, { n: 2 }],
      ['c', 1, `${runId}:c`, { n: 3 }],
    ]);
    expect((await attemptsOf(t, runId)).map((a) => [a.step_key, a.attempt, a.status, a.takeovers])).toEqual([
      ['a', 1, 'succeeded', 0],
      ['b', 1, 'failed', 0],
      ['b', 2, 'succeeded', 0],
      ['c', 1, 'succeeded', 0],
    ]);
    // a (the start), b#1 and c (a result) by the claiming commits; b#2, re-driven, claimed by a poll.
    expect(await attemptStartsOf(registry)).toEqual({ chained: 3, own: 1 });
  });
});
