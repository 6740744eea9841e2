import { QuenchError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import type { Database } from '../db/database.js';
import { z } from 'zod';
import { isoTime, jsonBodyOf } from '../http/json-body.js';
import type { Router } from '../http/router.js';
import type { AuditTrail } from '../audit/trail.js';
import { type DeadDelivery, listDead, retryDead } from './inbox.js';

/** A webhook delivery that failed every attempt (inbox.ts DeadDelivery). */
const deadDeliverySchema = jsonBodyOf<DeadDelivery>()(
  z.object({
    id: z.number().int().describe('The inbox entry `POST /v1/inbox/{id}/retry` takes'),
    source: z.string().describe('alertmanager, pagerduty or generic:<name>'),
    receivedAt: isoTime(),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
  }),
);

const retriedSchema = z.object({
  id: z.number().int(),
  status: z.literal('pending').describe('Queued again with fresh attempts'),
  by: z.string().describe("The token's user (audited)"),
});

/**
 * `GET /v1/inbox/dead` and `POST /v1/inbox/:id/retry`: the dead-lettered webhook deliveries,
 * for `quench dlq inbox` beside a running service. A retry is audited as the token's user.
 */
export function addInboxDeadRoutes(router: Router, deps: { db: Database; clock: Clock; audit: AuditTrail; wake: () => void }): void {
  router.add({
    method: 'GET',
    pattern: '/v1/inbox/dead',
    auth: 'read',
    doc: { summary: 'Webhook deliveries that could not be processed', responses: { 200: { description: 'Dead-lettered deliveries, oldest first', body: z.object({ entries: z.array(deadDeliverySchema) }) } } },
    handler: async () => ({ status: 200, body: { entries: await listDead(deps.db) } }),
  });
  router.add({
    method: 'POST',
    pattern: '/v1/inbox/:id/retry',
    auth: 'write',
    doc: { summary: 'Retry a dead inbox delivery', responses: { 200: { description: 'Queued again', body: retriedSchema } } },
    handler: async ({ params, user }) => {
      const id = params.id!;
      if (!/^\d+$/.test(id)) throw new QuenchError('bad_request', 'an inbox entry id is a whole number (see GET /v1/inbox/dead)');
      if (!user) throw new QuenchError('unauthorized', 'retrying an inbox entry needs an API token that names a user');
      if (!(await retryDead(deps.db, Number(id), deps.clock.now())))
        throw new QuenchError('not_found', `inbox entry ${id} is not dead-lettered, or QUENCH_INBOX_RETENTION already dropped its body`);
      await deps.audit.append({ actor: { type: 'user', id: user }, action: 'ingest.dlq_retried', subject: { type: 'inbox', id } });
      deps.wake();
      return { status: 200, body: { id: Number(id), status: 'pending', by: user } satisfies z.input<typeof retriedSchema> };
    },
  });
}
