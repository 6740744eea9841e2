import { z } from 'zod';
import { QuenchError } from '../core/errors.js';
import { isoTime, jsonBodyOf } from '../http/json-body.js';
import type { Router } from '../http/router.js';
import type { SloStatus } from './core/status.js';
import type { SloPort } from './port.js';

const ratio = (what: string) => z.number().nullable().describe(`${what}, 0..1; null: no data (no traffic), never zero`);
const alertSchema = z.object({
  status: z.enum(['inactive', 'pending', 'firing', 'resolved']),
  since: isoTime().nullable(),
  breaching: z.array(z.string()).describe('The burn-rate window sets over their threshold'),
  noData: z.array(z.string()).describe('Window sets that could not be judged for lack of data (the state is held)'),
});

/** One SLO's status: `GET /v1/slos/:name`, each of `GET /v1/slos` (as `quench slo status --json` prints it). */
export const sloStatusSchema = jsonBodyOf<SloStatus>()(
  z.object({
    name: z.string(),
    displayName: z.string().optional(),
    service: z.string(),
    owner: z.object({ team: z.string().optional(), slack: z.string().optional() }).optional(),
    objective: z.number().describe('Target ratio, e.g. 0.999'),
    window: z.string().describe('`30d`, or a calendar window (`calendar month (UTC)`)'),
    budgetingMethod: z.enum(['occurrences', 'timeslices', 'ratioTimeslices']),
    source: z.enum(['prometheus', 'synthetic', 'none']).describe('Where the SLI comes from; none: nothing to evaluate'),
    state: z
      .enum(['ok', 'no_data', 'error', 'not_evaluated'])
      .describe('ok: evaluated with data; no_data: evaluated, no traffic; error: the last evaluation failed (`error`); not_evaluated: nothing evaluated yet'),

    evaluatedAt: isoTime().nullable(),
    attainment: ratio('Good share over the window'),
    errorBudget: z.object({
      remaining: ratio('Share of the error budget left'),
      consumed: ratio('Share of the error budget spent'),
      totalMinutes: z.number(),
      remainingMinutes: z.number().nullable(),
    }),
    burnRates: z.record(z.string(), z.number().nullable()).describe('Burn rate per alert window, keyed `5m`, `1h`, …; null: no data'),
    timeToExhaustionSeconds: z.number().nullable().describe("At the fastest page window's burn rate; null when nothing burns or no data"),
    alerts: z.object({ page: alertSchema, ticket: alertSchema }),
    policy: z
      .object({
        freezeBelow: z.number().describe('Freeze risky deploys below this share of budget remaining'),
        freezeAllBelow: z.number().nullable().describe('Freeze every deploy at or below this share; null: never'),
        recoverAbove: z.number().describe('Lift only once the budget is above this share'),
        freezeOnPage: z.boolean().describe('Freeze while a page-severity burn alert fires'),
        freezeWhenExhaustedWithinMs: z.number().nullable(),
        freezeExpiresAfterMs: z.number().nullable().describe('An automatic freeze lifts this long after it started; null: only on recovery'),
      })
      .describe("The deploy gate's error budget policy"),
  }),
);

/** `GET /v1/slos` (every SLO's status, `?service=` to filter) and `GET /v1/slos/:name`. */
export function addSloRoutes(router: Router, slo: () => SloPort): void {
  router.add({
    method: 'GET',
    pattern: '/v1/slos',
    auth: 'read',
    doc: { summary: 'SLOs with budgets, burn rates and alerts', query: z.object({ service: z.string().optional() }), responses: { 200: { description: 'Every SLO (of the service)', body: z.object({ slos: z.array(sloStatusSchema) }) } } },
    handler: ({ query }) => {
      const service = query.get('service');
      return { status: 200, body: { slos: service ? slo().forService(service) : slo().list() } };
    },
  });
  router.add({
    method: 'GET',
    pattern: '/v1/slos/:name',
    auth: 'read',
    doc: { summary: 'One SLO', responses: { 200: { description: 'The SLO status', body: sloStatusSchema }, 404: { description: 'No such SLO' } } },
    handler: ({ params }) => {
      const status = slo().get(params.name!);
      if (!status) {
        const known = slo()
          .list()
          .map((s) => s.name);
        throw new QuenchError('not_found', `no SLO named ${params.name}${known.length ? `; known: ${known.slice(0, 20).join(', ')}` : ''}`);
      }
      return { status: 200, body: status };
    },
  });
}
