import type { ActionCall } from '../playbooks/core/model.js';
import { durationMs } from '../playbooks/core/model.js';
import { renderValue } from '../playbooks/core/templates.js';
import type { ExpressionContext } from '../playbooks/core/expressions.js';
import { abandonProbe, admit, record } from './core/circuit.js';
import { decideRetry, defaultCompensationRetryPolicy, defaultRetryPolicy, type RetryPolicy } from './core/retry.js';
import { NonRetriableError, type StepFailure, StepError, toStepFailure } from './core/step-error.js';
import { hasNul } from './core/storable.js';
import type { Step } from '../playbooks/core/model.js';
import { type AttemptRecord, RecordingError, recordResult, workerOf } from './complete.js';
import type { RunRow, StepRow } from './model.js';
import { breakerOf, type Runtime } from './runtime.js';
import { heartbeat } from './sql/attempt.js';
import { beginAttemptGrouped } from './group-commits.js';
import { type ClaimedStep, leaseTime } from './sql/claim.js';
import { releaseClaim } from './sql/release.js';
import { drillAction } from '../drills/simulate.js';

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
  const registered = rt.actions.get(call.action);
  const role = step.spec.role;
  // A drill calls the drill's view of the action: injected failures, simulation, delays (src/drills/simulate.ts).
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
  const fail = (error: StepFailure, reason: string, attempt?: AttemptRecord) =>
    recordResult(
      rt,
      claimed,
      { status: 'failed', error, deadLetter: { reason, context: { params: call.params, correlationId: run.correlationId } } },
      attempt,
    );
  if (!action)
    return void (await fail(
      { code: 'unknown_action', message: `no action named '${call.action}' is registered`, retryable: false },
      'non_retryable',
    ));

  let params: unknown;
  try {
    params = action.params.parse(renderValue(call.params, context));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return void (await fail(
      { code: 'invalid_params', message: `parameters of '${call.action}' are invalid: ${message}`, retryable: false },
      'non_retryable',
    ));
  }
  // The rendered parameters are stored with the attempt start (spec.params, for compensation
  // templates), and jsonb refuses a NUL: that start would fail on every takeover for ever.
  if (hasNul(params)) {
    return void (await fail(
      {
        code: 'invalid_params',
        message: `parameters of '${call.action}' contain a NUL character (\\u0000), which cannot be stored: remove it from the template or the value it renders`,
        retryable: false,
      },
      'non_retryable',
    ));
  }

  const now = rt.clock.now();
  const stepTimeoutMs = role === 'step' ? rt.options.stepTimeoutMs : null;
  // The step deadline holds even for a step that only ever met an open breaker (release.ts);
  // past it, the breaker is not consulted: the attempt start below records the timeout.
  const pastDeadline = step.deadlineAt !== null && now.getTime() >= step.deadlineAt.getTime();
  if (pastDeadline && step.attempts === 0) {
    const error = { code: 'step_timeout', message: `step '${step.stepKey}' reached its step timeout behind an open circuit breaker`, retryable: false };
    return void (await recordResult(rt, claimed, { status: 'failed', error, deadLetter: { reason: 'step_deadline', context: { params } } }));
  }
  const target = action.target?.(params) ?? call.action;
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
    if (start.takeover) rt.metrics.takeovers.inc();

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
      return;
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
    if (outcome.lost) return;

    const later = rt.clock.now();
    // The breaker tracks the target's health: an answer, even a 4xx we caused, means it is up.
    const healthy = outcome.ok || (outcome.failure.retryable === false && outcome.failure.code !== 'timeout');
    rt.breakers.set(target, record(breakerOf(rt, target), healthy, later.getTime(), rt.options.breaker));
    probeReported = true;

    if (outcome.ok) {
      rt.metrics.attempts.inc({ action: call.action, outcome: 'succeeded' });
      await recordResult(
        rt,
        claimed,
        { status: 'succeeded', output: outcome.output ?? null },
        { number: start.attempt, status: 'succeeded', output: outcome.output ?? null },
      );
      return;
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
      return;
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
  } finally {
    if (!probeReported) rt.breakers.set(target, abandonProbe(breakerOf(rt, target)));
  }
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
