import type { ActionDefinition } from '../actions/action.js';
import { StepError } from '../engine/core/step-error.js';
import { faultFor, injectedCode } from './core/faults.js';
import { DRILL_ROUTED } from './guard.js';

/**
 * What an action step of a drill run calls instead of the registered action. It goes through
 * the engine's ordinary attempt path (rendered and validated parameters, attempt rows, retries,
 * timeouts, fallbacks, compensation), so a drill exercises the same machinery a real run does:
 *
 * - an injected failure (`fail=STEP`, src/drills/core/faults.ts) throws before anything runs;
 * - a scenario's response delay (docs/drills.md) holds the answer, so the step's timeout fires;
 * - a step marked `drillSafe` then runs for real (the drill guard still keeps deploy.* and
 *   pagerduty.* away from the real gate and real pages, src/drills/guard.ts);
 * - any other step returns what it would have done: the action and its rendered parameters.
 *
 * The breaker target is prefixed `drill:`, so neither injected failures nor simulated successes
 * change what real runs know of a target's health.
 */
export interface DrillStep {
  fail: readonly string[] | undefined;
  stepKey: string;
  role: string;
  drillSafe: boolean;
  retryOn: readonly string[] | undefined;
  /** A scenario's response delay for this step, in ms. */
  delayMs?: number | undefined;
}

export function drillAction<P>(real: ActionDefinition<P>, step: DrillStep): ActionDefinition<P> {
  return {
    ...real,
    target: (params) => `drill:${real.target?.(params) ?? real.name}`,
    async run(params, ctx) {
      const fault = faultFor(step.fail, step.stepKey, step.role, ctx.attempt);
      if (fault)
        throw new StepError(injectedCode(step.retryOn), `DRILL: injected failure of '${step.stepKey}' (fail=${fault.step}:${fault.mode}, attempt ${ctx.attempt})`, {
          retryable: true,
          details: { injected: true, mode: fault.mode, drill: true },
        });
      if (step.delayMs) await delay(step.delayMs, ctx.signal);
      // drillSafe steps run for real; PagerDuty with a drill routing key goes to that key (guard.ts).
      if (step.drillSafe || (real as { [DRILL_ROUTED]?: true })[DRILL_ROUTED]) return real.run(params, ctx);
      return { simulated: true, drill: true, action: real.name, wouldHave: params };
    },
  };
}

/** Waits, but gives way to the attempt's abort (its timeout, a lost lease, shutdown). */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
