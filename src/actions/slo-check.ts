import { z } from 'zod';
import { NonRetriableError, RetryAfterError } from '../engine/core/step-error.js';
import type { SloPort } from '../slo/port.js';
import { defineAction } from './action.js';

/**
 * `slo.check`: asks the SLO engine about one SLO, so a playbook can branch on the budget
 * ("roll back only if the budget is burning"). `ports.slo` is read at call time, because the
 * engine may run before the evaluator has started (or in a process without it).
 */
function sloPort(ports: Record<string, unknown>): SloPort | undefined {
  const port = ports.slo as Partial<SloPort> | undefined;
  return port && typeof port.get === 'function' ? (port as SloPort) : undefined;
}

export const sloCheckAction = defineAction({
  name: 'slo.check',
  description: "read an SLO's status (attainment, error budget, burn rates, alerts) from the SLO engine",
  changesState: false,
  params: z.strictObject({
    slo: z.string().min(1),
    /** Fail the step (non-retryable) when the error budget remaining is below this fraction. */
    minBudgetRemaining: z.number().min(-1).max(1).optional(),
  }),
  target: () => 'slo',
  async run(params, ctx) {
    const slo = sloPort(ctx.ports);
    if (!slo) {
      throw new NonRetriableError(
        'slo_unavailable',
        'slo.check needs the SLO engine, which is not part of this process (ports.slo is not set)',
      );
    }
    // The evaluator starts after the engine; a step that runs in that gap retries shortly.
    if (!slo.running) throw new RetryAfterError('slo_not_running', 'the SLO evaluator has not started yet', 5_000);
    const status = slo.get(params.slo);
    if (!status) {
      const known = slo.list().map((s) => s.name);
      throw new NonRetriableError('slo_unknown', `slo.check: no SLO named '${params.slo}'; known: ${known.join(', ') || 'none'}`);
    }
    const remaining = status.errorBudget.remaining;
    if (params.minBudgetRemaining !== undefined && remaining !== null && remaining < params.minBudgetRemaining) {
      throw new NonRetriableError(
        'slo_budget_low',
        `SLO '${params.slo}' has ${remaining} of its error budget left, below ${params.minBudgetRemaining}`,
        {
          budgetRemaining: remaining,
        },
      );
    }
    return status;
  },
});
