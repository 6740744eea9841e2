import { z } from 'zod';
import { NonRetriableError, StepError } from '../engine/core/step-error.js';
import { defineAction } from './action.js';

/**
 * `slo.check`: asks the SLO engine about one SLO, so a playbook can branch on the budget
 * ("roll back only if the budget is burning"). The SLO capability offers `ports.slo`; it is
 * read at call time, because the engine starts before or without it.
 */
export interface SloReader {
  /** The status of one SLO, or undefined when no SLO has that name. */
  status(name: string): Promise<unknown>;
}

function sloPort(ports: Record<string, unknown>): SloReader | undefined {
  const port = ports.slo as Partial<SloReader> | undefined;
  return port && typeof port.status === 'function' ? (port as SloReader) : undefined;
}

export const sloCheckAction = defineAction({
  name: 'slo.check',
  description: "read an SLO's status (attainment, budget remaining, burn rates) from the SLO engine",
  changesState: false,
  params: z.strictObject({
    slo: z.string().min(1),
    /** Fail the step (non-retryable) when the budget remaining is below this fraction. */
    minBudgetRemaining: z.number().min(-1).max(1).optional(),
  }),
  target: () => 'slo',
  async run(params, ctx) {
    const slo = sloPort(ctx.ports);
    if (!slo) {
      throw new NonRetriableError(
        'slo_unavailable',
        'slo.check needs the SLO engine, which is not running in this service (ports.slo is not set)',
      );
    }
    let status: unknown;
    try {
      status = await slo.status(params.slo);
    } catch (err) {
      throw new StepError('slo_error', `slo.check of '${params.slo}' failed: ${(err as Error).message}`, { retryable: true });
    }
    if (status === undefined || status === null) throw new NonRetriableError('slo_unknown', `slo.check: no SLO named '${params.slo}'`);
    const budget = (status as { budgetRemaining?: unknown }).budgetRemaining;
    if (params.minBudgetRemaining !== undefined && typeof budget === 'number' && budget < params.minBudgetRemaining) {
      throw new NonRetriableError(
        'slo_budget_low',
        `SLO '${params.slo}' has ${budget} of its budget left, below ${params.minBudgetRemaining}`,
        {
          budgetRemaining: budget,
        },
      );
    }
    return status;
  },
});
