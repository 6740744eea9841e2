import type { ActionCall } from '../playbooks/core/model.js';
import { durationMs } from '../playbooks/core/model.js';
import { renderValue } from '../playbooks/core/templates.js';
import type { ExpressionContext } from '../playbooks/core/expressions.js';
import { admit, record } from './core/circuit.js';
import { decideRetry, defaultCompensationRetryPolicy, defaultRetryPolicy, type RetryPolicy } from './core/retry.js';
import { NonRetriableError, type StepFailure, StepError, toStepFailure } from './core/step-error.js';
import type { Step } from '../playbooks/core/model.js';
import { completeClaimed } from './complete.js';
import type { RunRow, StepRow } from './model.js';
import { breakerOf, type Runtime } from './runtime.js';
import { beginAttempt, heartbeat } from './sql/attempt.js';
import type { ClaimedStep } from './sql/claim.js';
import { releaseClaim } from './sql/release.js';

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
  worker: string,
  claimed: ClaimedStep,
  run: RunRow,
  step: StepRow,
  playbookStep: Step | undefined,
  call: ActionCall,
  context: ExpressionContext,
  signal: AbortSignal,
): Promise<void> {
  const action = rt.actions.get(call.action);
  const role = step.spec.role;
  const fail = (error: StepFailure, reason: string) =>
    completeClaimed(rt, worker, claimed, {
      status: 'failed',
      error,
      deadLetter: { reason, context: { params: call.params, correlationId: run.correlationId } },
    });
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

  const now = rt.clock.now();
  const target = action.target?.(params) ?? call.action;
  const admission = admit(breakerOf(rt, target), now.getTime(), rt.options.breaker);
  rt.breakers.set(target, admission.next);
  if (!admission.allowed) {
    await releaseClaim(rt.db, claimed.id, worker, new Date(admission.retryAtMs));
    rt.metrics.attempts.inc({ action: call.action, outcome: 'circuit_open' });
    return;
  }

  const start = await beginAttempt(rt.db, {
    stepId: claimed.id,
    runId: run.id,
    stepKey: step.stepKey,
    worker,
    now,
    stepTimeoutMs: role === 'step' ? rt.options.stepTimeoutMs : null,
    params,
  });
  if (!start) return; // lost the lease between claim and start
  if (start.takeover) rt.metrics.takeovers.inc();

  const policy = retryPolicyOf(playbookStep, role);
  const attemptTimeout = playbookStep?.timeout && role === 'step' ? durationMs(playbookStep.timeout) : rt.options.defaultAttemptTimeoutMs;
  const remaining = start.deadlineAt ? start.deadlineAt.getTime() - now.getTime() : Number.POSITIVE_INFINITY;
  if (remaining <= 0) {
    const error = { code: 'step_timeout', message: `step '${step.stepKey}' ran past its step timeout`, retryable: false };
    await completeClaimed(
      rt,
      worker,
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
      callWithLease(rt, worker, claimed.id, Math.min(attemptTimeout, remaining), signal, (s) =>
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

  if (outcome.ok) {
    rt.metrics.attempts.inc({ action: call.action, outcome: 'succeeded' });
    await completeClaimed(
      rt,
      worker,
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
  const attemptRecord = {
    number: start.attempt,
    status: failure.code === 'timeout' ? ('timed_out' as const) : ('failed' as const),
    error: failure,
  };
  if (decision.retry) {
    rt.metrics.retries.inc({ action: call.action });
    await completeClaimed(
      rt,
      worker,
      claimed,
      { status: 'retry_wait', error: failure, wakeAt: new Date(later.getTime() + decision.delayMs) },
      attemptRecord,
    );
    return;
  }
  await completeClaimed(
    rt,
    worker,
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
}

type CallOutcome = { lost: true } | { lost: false; ok: true; output: unknown } | { lost: false; ok: false; failure: StepFailure };

/** Runs `fn` with an attempt timeout, extending the lease until it settles. */
async function callWithLease(
  rt: Runtime,
  worker: string,
  stepId: string,
  timeoutMs: number,
  shutdown: AbortSignal,
  fn: (signal: AbortSignal) => Promise<unknown>,
): Promise<CallOutcome> {
  const controller = new AbortController();
  let lost = false;
  const onShutdown = () => controller.abort(new StepError('shutdown', 'the worker is shutting down', { retryable: true }));
  shutdown.addEventListener('abort', onShutdown, { once: true });
  const timeout = setTimeout(
    () => controller.abort(new StepError('timeout', `attempt timed out after ${timeoutMs} ms`, { retryable: true })),
    Math.min(timeoutMs, 2 ** 31 - 1),
  );
  const beat = setInterval(
    () => {
      const until = new Date(rt.clock.now().getTime() + rt.options.leaseMs);
      heartbeat(rt.db, stepId, worker, until)
        .then((held) => {
          if (!held) {
            lost = true;
            controller.abort(new NonRetriableError('lease_lost', 'the lease on this step was lost'));
          }
        })
        .catch((err) => rt.logger.warn({ err, stepId }, 'lease heartbeat failed'));
    },
    Math.max(100, Math.floor(rt.options.leaseMs / 3)),
  );
  try {
    const aborted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
    });
    const output = await Promise.race([fn(controller.signal), aborted]);
    return { lost: false, ok: true, output };
  } catch (err) {
    // On shutdown the attempt stays `running`; the next owner resumes it with the same key.
    if (lost || shutdown.aborted) return { lost: true };
    return { lost: false, ok: false, failure: toStepFailure(err) };
  } finally {
    clearTimeout(timeout);
    clearInterval(beat);
    shutdown.removeEventListener('abort', onShutdown);
  }
}
