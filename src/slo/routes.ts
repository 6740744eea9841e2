import { z } from 'zod';
import { QuenchError } from '../core/errors.js';
import type { Router } from '../http/router.js';
import type { SloPort } from './port.js';

/** `GET /v1/slos` (every SLO's status, `?service=` to filter) and `GET /v1/slos/:name`. */
export function addSloRoutes(router: Router, slo: () => SloPort): void {
  router.add({
    method: 'GET',
    pattern: '/v1/slos',
    auth: 'read',
    doc: { summary: 'SLOs with budgets, burn rates and alerts', query: z.object({ service: z.string().optional() }), responses: { 200: { description: '{ slos }' } } },
    handler: ({ query }) => {
      const service = query.get('service');
      return { status: 200, body: { slos: service ? slo().forService(service) : slo().list() } };
    },
  });
  router.add({
    method: 'GET',
    pattern: '/v1/slos/:name',
    auth: 'read',
    doc: { summary: 'One SLO', responses: { 200: { description: 'The SLO status' }, 404: { description: 'No such SLO' } } },
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
