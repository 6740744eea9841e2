import type { ActionCall } from '../playbooks/core/model.js';
import { durationMs } from '../playbooks/core/model.js';
import { renderValue } from '../playbooks/core/templates.js';
import type { ExpressionContext } from '../playbooks/core/expressions.js';
import { abandonProbe, admit, record } from './core/circuit.js';
import { decideRetry, defaultCompensationRetryPolicy, defaultRetryPolicy, type RetryPolicy } from './core/retry.js';
import { NonRetriableError, type StepFailure, StepError, toStepFailure } from './core/step-error.js';
import { storageProblem } from './core/storable.js';
import type { Step } from '../playbooks/core/model.js';
import { type AttemptRecord, RecordingError, recordResult, workerOf } from './complete.js';
import type { RunRow, StepRow } from './model.js';
import { breakerOf, type Runtime } from './runtime.js';
import { type AttemptStart, heartbeat } from './sql/attempt.js';
import { beginAttemptGrouped } from './group-commits.js';
import type { ActionDefinition } from '../actions/action.js';
import { type ClaimedStep, leaseTime } from './sql/claim.js';
import { releaseClaim } from './sql/release.js';
import { drillAction } from '../drills/simulate.js';
import { messageOf } from '../core/errors.js';

/**
 * One action attempt: render parameters, check the circuit breaker, record the attempt start
 * (committed before the call, so a crash leaves a `running` attempt the next owner resumes with
 * the same idempotency key), call the action with a timeout and a lease heartbeat, and record
 * the result. No transaction is open during the call.
 */
export function retryPolicyOf(step: Step | undefined, role: StepRow['spec']['role']): RetryPolicy {
  if (role === 'compensation') return defaultCompensationRetryPolicy;
  const r = step?.retry;
  if (!r || role !== 'step') return defaultRetryPolicy;
  return {
    maxAttempts: r.maxAttempts,
    initialDelayMs: durationMs(r.initialDelay),
    maxDelayMs: durationMs(r.maxDelay),
    multiplier: r.backoff === 'fixed' ? 1 : 2,
    ...(r.retryOn ? { retryOn: r.retryOn } : {}),
  };
}

/** The action a step calls with its rendered, validated parameters; or why the step fails before any attempt. */
export type ResolvedCall =
  | { ok: true; action: ActionDefinition; params: unknown; target: string }
  | { ok: false; error: StepFailure };

/**
 * Resolves the action (a drill's view of it in a drill: injected failures, simulation, delays,
 * src/drills/simulate.ts) and renders and validates its parameters against `context`. Pure but
 * for the registry: the recording transaction that chains a step uses it too (prestart.ts).
 */
export function resolveCall(rt: Runtime, run: RunRow, step: StepRow, playbookStep: Step | undefined, call: ActionCall, context: ExpressionContext): ResolvedCall {
  const registered = rt.actions.get(call.action);
  const role = step.spec.role;
  const action =
    registered && run.drill
      ? drillAction(registered, {
          fail: run.drill.fail,
          stepKey: step.stepKey,
          role,
          drillSafe: playbookStep?.drillSafe ?? false,
          retryOn: playbookStep?.kind === 'action' ? playbookStep.retry?.retryOn : undefined,
          delayMs: run.drill.delays?.[step.stepKey],
        })
      : registered;
  if (!action) return { ok: false, error: { code: 'unknown_action', message: `no action named '${call.action}' is registered`, retryable: false } };
  let params: unknown;
  try {
    params = action.params.parse(renderValue(call.params, context));
  } catch (err) {
    const message = messageOf(err);
    return { ok: false, error: { code: 'invalid_params', message: `parameters of '${call.action}' are invalid: ${message}`, retryable: false } };
  }
  // The rendered parameters are stored with the attempt start (spec.params, for compensation
  // templates), exactly as rendered, and jsonb refuses some strings: that start would fail on
  // every takeover for ever.
  const problem = storageProblem(params);
  if (problem)
    return {
      ok: false,
      error: {
        code: 'invalid_params',
        message: `parameters of '${call.action}' contain ${problem}, which cannot be stored: remove it from the template or the value it renders`,
        retryable: false,
      },
    };
  let target: string;
  try {
    target = action.target?.(params) ?? call.action;
  } catch (err) {
    const message = messageOf(err);
    return { ok: false, error: { code: 'invalid_params', message: `parameters of '${call.action}' name no target: ${message}`, retryable: false } };
  }
  return { ok: true, action, params, target };
}

/** The step timeout a role's attempts run under (compensations, fallbacks and the like have none). */
export const stepTimeoutOf = (rt: Runtime, step: StepRow) => (step.spec.role === 'step' ? rt.options.stepTimeoutMs : null);

/**
 * An attempt the commit that chained its step already started (prestart.ts): the call it
 * resolved, the breaker it found closed, and the attempt row it wrote.
 */
export interface PrestartedAttempt {
  call: ActionCall;
  resolved: Extract<ResolvedCall, { ok: true }>;
  start: AttemptStart;
  now: Date;
}

export async function runActionAttempt(
  rt: Runtime,
  claimed: ClaimedStep,
  run: RunRow,
  step: StepRow,
  playbookStep: Step | undefined,
  call: ActionCall,
  context: ExpressionContext,
  signal: AbortSignal,
): Promise<void> {
  const resolved = resolveCall(rt, run, step, playbookStep, call, context);
  if (!resolved.ok)
    return void (await recordResult(rt, claimed, {
      status: 'failed',
      error: resolved.error,
      deadLetter: { reason: 'non_retryable', context: { params: call.params, correlationId: run.correlationId } },
    }));
  const { params, target } = resolved;

  const now = rt.clock.now();
  const stepTimeoutMs = stepTimeoutOf(rt, step);
  // The step deadline holds even for a step that only ever met an open breaker (release.ts);
  // past it, the breaker is not consulted: the attempt start below records the timeout.
  const pastDeadline = step.deadlineAt !== null && now.getTime() >= step.deadlineAt.getTime();
  if (pastDeadline && step.attempts === 0) {
    const error = { code: 'step_timeout', message: `step '${step.stepKey}' reached its step timeout behind an open circuit breaker`, retryable: false };
    return void (await recordResult(rt, claimed, { status: 'failed', error, deadLetter: { reason: 'step_deadline', context: { params } } }));
  }
  const admission = pastDeadline
    ? ({ allowed: true, next: breakerOf(rt, target), probe: false } as const)
    : admit(breakerOf(rt, target), now.getTime(), rt.options.breaker);
  rt.breakers.set(target, admission.next);
  if (!admission.allowed) {
    const deadlineAt = step.deadlineAt ?? (stepTimeoutMs !== null ? new Date(now.getTime() + stepTimeoutMs) : null);
    await releaseClaim(rt.db, { stepId: claimed.id, token: claimed.token, retryAt: new Date(admission.retryAtMs), deadlineAt });
    rt.metrics.attempts.inc({ action: call.action, outcome: 'circuit_open' });
    return;
  }
  // A probe that ends without telling anything about the target hands the probe back.
  let probeReported = !admission.probe;
  try {
    const start = await beginAttemptGrouped(rt, {
      stepId: claimed.id,
      runId: run.id,
      stepKey: step.stepKey,
      worker: workerOf(claimed),
      token: claimed.token,
      now,
      stepTimeoutMs,
      params,
    }).catch((err: unknown) => {
      throw new RecordingError(err);
    });
    if (!start) return; // lost the claim between claim and start
    if (start.draining) {
      await recordResult(rt, claimed, { status: 'cancelled', reason: 'the run failed before this step started' });
      return;
    }
    rt.metrics.attemptStarts.inc({ via: 'own' });
    probeReported = await callAndRecord(rt, claimed, run, step, playbookStep, { call, resolved, start, now }, signal);
  } finally {
    if (!probeReported) rt.breakers.set(target, abandonProbe(breakerOf(rt, target)));
  }
}

/** Runs an attempt whose start the chaining commit already wrote (prestart.ts): straight to the call. */
export async function runPrestartedAttempt(
  rt: Runtime,
  claimed: ClaimedStep,
  run: RunRow,
  step: StepRow,
  playbookStep: Step | undefined,
  started: PrestartedAttempt,
  signal: AbortSignal,
): Promise<void> {
  rt.metrics.attemptStarts.inc({ via: 'chained' });
  await callAndRecord(rt, claimed, run, step, playbookStep, started, signal);
}

/**
 * Calls a started attempt's action with a timeout and a lease heartbeat, tells the breaker, and
 * records the result. Returns whether the outcome reached the breaker (not on a lost lease).
 */
async function callAndRecord(
  rt: Runtime,
  claimed: ClaimedStep,
  run: RunRow,
  step: StepRow,
  playbookStep: Step | undefined,
  { call, resolved: { action, params, target }, start, now }: PrestartedAttempt,
  signal: AbortSignal,
): Promise<boolean> {
  if (start.takeover) rt.metrics.takeovers.inc();
  const role = step.spec.role;
  const policy = retryPolicyOf(playbookStep, role);
  const attemptTimeout = playbookStep?.timeout && role === 'step' ? durationMs(playbookStep.timeout) : rt.options.defaultAttemptTimeoutMs;
  const remaining = start.deadlineAt ? start.deadlineAt.getTime() - now.getTime() : Number.POSITIVE_INFINITY;
  if (remaining <= 0) {
    const error = { code: 'step_timeout', message: `step '${step.stepKey}' ran past its step timeout`, retryable: false };
    await recordResult(
      rt,
      claimed,
      { status: 'failed', error, deadLetter: { reason: 'step_deadline', context: { params } } },
      { number: start.attempt, status: 'timed_out', error },
    );
    return false;
  }

  const outcome = await rt.tracing.span(
    'quench.attempt',
    run.traceContext as never,
    {
      'quench.run.id': run.id,
      'quench.step.key': step.stepKey,
      'quench.attempt': start.attempt,
      'quench.action': call.action,
      'quench.takeover': start.takeover,
    },
    () =>
      callWithLease(rt, claimed, Math.min(attemptTimeout, remaining), signal, (s) =>
        action.run(params, {
          runId: run.id,
          stepKey: step.stepKey,
          attempt: start.attempt,
          idempotencyKey: start.idempotencyKey,
          correlationId: run.correlationId,
          signal: s,
          clock: rt.clock,
          logger: rt.logger.child({ runId: run.id, step: step.stepKey, attempt: start.attempt }),
          config: rt.config,
          ports: rt.ports(),
          drill: run.drill !== null,
        }),
      ),
  );
  if (outcome.lost) return false;

  const later = rt.clock.now();
  // The breaker tracks the target's health: an answer, even a 4xx we caused, means it is up.
  const healthy = outcome.ok || (outcome.failure.retryable === false && outcome.failure.code !== 'timeout');
  rt.breakers.set(target, record(breakerOf(rt, target), healthy, later.getTime(), rt.options.breaker));

  if (outcome.ok) {
    rt.metrics.attempts.inc({ action: call.action, outcome: 'succeeded' });
    await recordResult(
      rt,
      claimed,
      { status: 'succeeded', output: outcome.output ?? null },
      { number: start.attempt, status: 'succeeded', output: outcome.output ?? null },
    );
    return true;
  }
  const failure = outcome.failure;
  rt.metrics.attempts.inc({ action: call.action, outcome: failure.code === 'timeout' ? 'timed_out' : 'failed' });
  // After `quench dlq retry` the step has a fresh budget: count attempts since the re-drive.
  const decision = decideRetry(policy, start.attempt - (step.spec.attemptBase ?? 0), failure, rt.random, {
    nowMs: later.getTime(),
    deadlineMs: start.deadlineAt?.getTime() ?? null,
  });
  const attemptRecord: AttemptRecord = {
    number: start.attempt,
    status: failure.code === 'timeout' ? 'timed_out' : 'failed',
    error: failure,
  };
  if (decision.retry) {
    rt.metrics.retries.inc({ action: call.action });
    await recordResult(
      rt,
      claimed,
      { status: 'retry_wait', error: failure, wakeAt: new Date(later.getTime() + decision.delayMs) },
      attemptRecord,
    );
    return true;
  }
  await recordResult(
    rt,
    claimed,
    {
      status: 'failed',
      error: failure,
      deadLetter: {
        reason: decision.reason,
        context: { params, action: call.action, attempts: start.attempt, idempotencyKey: start.idempotencyKey },
      },
    },
    attemptRecord,
  );
  return true;
}

type CallOutcome = { lost: true } | { lost: false; ok: true; output: unknown } | { lost: false; ok: false; failure: StepFailure };

/**
 * Runs `fn` with an attempt timeout, extending the claim's lease until it settles. The
 * action is aborted (and its result dropped) when the lease is gone: a heartbeat found the
 * claim taken over or cancelled, or heartbeats kept failing (the database is away) for longer
 * than the lease, after which another worker may rightly have taken the step over.
 */
async function callWithLease(
  rt: Runtime,
  claimed: ClaimedStep,
  timeoutMs: number,
  shutdown: AbortSignal,
  fn: (signal: AbortSignal) => Promise<unknown>,
): Promise<CallOutcome> {
  const controller = new AbortController();
  let lost = false;
  let heldAt = rt.clock.now().getTime();
  // A worker whose stop grace is over calls nothing more (a step chained to its slot before the
  // stop): the attempt stays `running` and the stop makes the step due for another worker,
  // which repeats it under the same key.
  if (shutdown.aborted) return { lost: true };
  const onShutdown = () => controller.abort(new StepError('shutdown', 'the worker is shutting down', { retryable: true }));
  shutdown.addEventListener('abort', onShutdown, { once: true });
  const timeout = setTimeout(
    () => controller.abort(new StepError('timeout', `attempt timed out after ${timeoutMs} ms`, { retryable: true })),
    Math.min(timeoutMs, 2 ** 31 - 1),
  );
  const loseLease = (why: string) => {
    lost = true;
    controller.abort(new NonRetriableError('lease_lost', why));
  };
  const leaseNow = () => leaseTime(rt.options.leaseClock === 'database', rt.clock.now());
  const beat = setInterval(
    () => {
      const sentAt = rt.clock.now().getTime();
      Promise.resolve()
        .then(() => heartbeat(rt.db, claimed.id, claimed.token, rt.options.leaseMs, leaseNow()))
        .then((held) => {
          if (held) heldAt = Math.max(heldAt, sentAt);
          else loseLease('the lease on this step was lost (taken over or cancelled)');
        })
        .catch((err: unknown) => {
          const silentMs = rt.clock.now().getTime() - heldAt;
          rt.logger.warn({ err, stepId: claimed.id, silentMs }, 'lease heartbeat failed');
          if (silentMs > rt.options.leaseMs) loseLease(`lease heartbeats failed for ${silentMs} ms, longer than the lease`);
        });
    },
    rt.options.heartbeatMs > 0 ? rt.options.heartbeatMs : Math.max(100, Math.floor(rt.options.leaseMs / 3)),
  );
  try {
    const aborted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
    });
    const output = await Promise.race([fn(controller.signal), aborted]);
    return { lost: false, ok: true, output };
  } catch (err) {
    // On shutdown or a lost lease the attempt stays `running`; the next owner resumes it with the same key.
    if (lost || shutdown.aborted) return { lost: true };
    return { lost: false, ok: false, failure: toStepFailure(err) };
  } finally {
    clearTimeout(timeout);
    clearInterval(beat);
    shutdown.removeEventListener('abort', onShutdown);
  }
}
