import { z } from 'zod';
import { type ActionDefinition, defineAction } from '../actions/action.js';
import { isQuenchError } from '../core/errors.js';
import { NonRetriableError, RetryAfterError, StepError } from '../engine/core/step-error.js';
import type { PagerDutyDirectory } from './directory.js';
import type { PagerDutyEvents } from './events.js';

/**
 * `pagerduty.trigger|acknowledge|resolve` (Events API v2) and `pagerduty.note` (REST). The dedup
 * key defaults to the run's correlation id: a retried attempt, a repeated run step or a later
 * resolve all address the same PagerDuty alert. `pagerduty.trigger` declares `pagerduty.resolve`
 * as its compensation, so a failed run does not leave a page open.
 */
export interface PagerDutyClients {
  /** Undefined when PAGERDUTY_ROUTING_KEY is unset. */
  events: PagerDutyEvents | undefined;
  /** Undefined when PAGERDUTY_TOKEN is unset. */
  directory: PagerDutyDirectory | undefined;
  fromEmail: string | undefined;
}

const dedupKey = z.string().min(1).max(255).optional();

export function pagerDutyActions(clients: PagerDutyClients): ActionDefinition[] {
  const events = () => {
    if (!clients.events)
      throw new NonRetriableError(
        'pagerduty_off',
        'PagerDuty Events API is not configured: set PAGERDUTY_ROUTING_KEY (an Events API v2 integration key)',
      );
    return clients.events;
  };

  const trigger = defineAction({
    name: 'pagerduty.trigger',
    description: 'page through PagerDuty Events API v2 (dedup key: the run correlation id)',
    changesState: true,
    compensation: { action: 'pagerduty.resolve' },
    params: z.strictObject({
      summary: z.string().min(1),
      severity: z.enum(['critical', 'error', 'warning', 'info']).default('error'),
      source: z.string().min(1).default('quench'),
      component: z.string().optional(),
      group: z.string().optional(),
      details: z.record(z.string(), z.unknown()).default({}),
      dedupKey,
    }),
    target: () => 'pagerduty-events',
    async run(p, ctx) {
      const key = p.dedupKey ?? ctx.correlationId;
      const sent = await call(() =>
        events().send({
          action: 'trigger',
          dedupKey: key,
          summary: p.summary,
          severity: p.severity,
          source: p.source,
          component: p.component,
          group: p.group,
          customDetails: { ...p.details, quench_run: ctx.runId, correlation_id: ctx.correlationId },
        }),
      );
      return { dedupKey: sent.dedupKey, status: 'triggered' };
    },
  });

  const transition = (action: 'acknowledge' | 'resolve') =>
    defineAction({
      name: `pagerduty.${action}`,
      description: `${action} the run's PagerDuty alert (Events API v2)`,
      changesState: true,
      params: z.strictObject({ dedupKey }),
      target: () => 'pagerduty-events',
      async run(p, ctx) {
        const sent = await call(() => events().send({ action, dedupKey: p.dedupKey ?? ctx.correlationId }));
        return { dedupKey: sent.dedupKey, status: action === 'acknowledge' ? 'acknowledged' : 'resolved' };
      },
    });

  const note = defineAction({
    name: 'pagerduty.note',
    description: "add a note to the run's PagerDuty incident (REST API)",
    changesState: true,
    params: z.strictObject({ content: z.string().min(1).max(25_000), incidentId: z.string().min(1).optional(), dedupKey }),
    target: () => 'pagerduty-rest',
    async run(p, ctx) {
      const directory = clients.directory;
      if (!directory) throw new NonRetriableError('pagerduty_off', 'PagerDuty REST API is not configured: set PAGERDUTY_TOKEN');
      const incidentId = p.incidentId ?? (await call(() => directory.incidentFor(p.dedupKey ?? ctx.correlationId)));
      // The incident may not exist yet right after a trigger (PagerDuty creates it asynchronously).
      if (!incidentId)
        throw new StepError('pagerduty_no_incident', `no PagerDuty incident for dedup key ${p.dedupKey ?? ctx.correlationId} yet`, {
          retryable: true,
        });
      const added = await call(() => directory.addNote(incidentId, p.content, clients.fromEmail));
      return { incidentId, noteId: added.id };
    },
  });

  return [trigger, transition('acknowledge'), transition('resolve'), note] as ActionDefinition[];
}

/** Our clients throw QuenchErrors marked retryable or not; the engine wants StepErrors. */
async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof StepError || !isQuenchError(err)) throw err;
    const retryAfter = err.details?.retryAfterSeconds;
    if (typeof retryAfter === 'number') throw new RetryAfterError(`pagerduty_${err.code}`, err.message, retryAfter * 1000);
    if (err.details?.retryable === false) throw new NonRetriableError(`pagerduty_${err.code}`, err.message);
    throw new StepError(`pagerduty_${err.code}`, err.message, { retryable: true });
  }
}
