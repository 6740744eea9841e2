import { z } from 'zod';
import { QuenchError } from '../core/errors.js';
import { readJson } from '../http/body.js';
import type { Router } from '../http/router.js';
import { type AckDeps, acknowledgeRun } from './ack.js';
import { listReviews, type ReviewDeps, reviewStatuses, reviewStep } from './reviews.js';

/**
 * `POST /v1/runs/:id/ack`, `GET /v1/reviews`, `POST /v1/reviews/:id`: the same functions as
 * `/quench ack` and `/quench review` in Slack, as the user behind the bearer token.
 */
export const reviewBodySchema = z.strictObject({
  verdict: z.enum(['agree', 'disagree']),
  note: z.string().max(2000).optional(),
});

export function addChatRoutes(router: Router, deps: AckDeps & ReviewDeps): void {
  router.add({
    method: 'POST',
    pattern: '/v1/runs/:id/ack',
    auth: 'write',
    doc: { summary: 'Acknowledge a run as the token user', responses: { 200: { description: 'The acknowledgement' } } },
    handler: async ({ params, user }) => {
      if (!user) throw new QuenchError('unauthorized', 'acknowledging a run needs an API token that names a user');
      return { status: 200, body: await acknowledgeRun(deps, params.id!, { id: user, name: user, via: 'api' }) };
    },
  });
  router.add({
    method: 'GET',
    pattern: '/v1/reviews',
    auth: 'read',
    doc: { summary: 'Auto-approvals sampled for review', query: z.object({ status: z.enum(reviewStatuses).optional(), limit: z.string().regex(/^\d+$/).optional() }), responses: { 200: { description: '{ reviews }' } } },
    handler: async ({ query }) => {
      const status = query.get('status') ?? 'pending';
      if (!(reviewStatuses as readonly string[]).includes(status))
        throw new QuenchError('bad_request', `status must be one of ${reviewStatuses.join(', ')} (got ${status})`);
      const limit = query.get('limit') ?? '100';
      if (!/^\d+$/.test(limit) || Number(limit) < 1 || Number(limit) > 1000) throw new QuenchError('bad_request', 'limit must be a whole number from 1 to 1000');
      return { status: 200, body: { reviews: await listReviews(deps.db, status as (typeof reviewStatuses)[number], Number(limit)) } };
    },
  });
  router.add({
    method: 'POST',
    pattern: '/v1/reviews/:id',
    auth: 'write',
    doc: { summary: 'Review a sampled auto-approval', body: reviewBodySchema, responses: { 200: { description: 'The review' } } },
    handler: async ({ params, req, user }) => {
      if (!user) throw new QuenchError('unauthorized', 'reviewing needs an API token that names a user');
      const body = await readJson(req, reviewBodySchema, 16 * 1024);
      const review = await reviewStep(deps, params.id!, body.verdict, body.note, {
        person: { aliases: [user], display: user },
        id: user,
        name: user,
        via: 'api',
      });
      return { status: 200, body: review };
    },
  });
}
