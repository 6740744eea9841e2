import { z } from 'zod';
import { QuenchError } from '../core/errors.js';
import { readJson } from '../http/body.js';
import { isoTime, jsonBodyOf } from '../http/json-body.js';
import type { Router } from '../http/router.js';
import { type AckDeps, type AckResult, acknowledgeRun } from './ack.js';
import { listReviews, type ReviewDeps, type ReviewItem, reviewStatuses, reviewStep } from './reviews.js';

/**
 * `POST /v1/runs/:id/ack`, `GET /v1/reviews`, `POST /v1/reviews/:id`: the same functions as
 * `/quench ack` and `/quench review` in Slack, as the user behind the bearer token.
 */
export const reviewBodySchema = z.strictObject({
  verdict: z.enum(['agree', 'disagree']),
  note: z.string().max(2000).optional(),
});

/** `POST /v1/runs/:id/ack` 200. */
export const ackResultSchema = jsonBodyOf<AckResult>()(
  z.object({
    runId: z.string(),
    by: z.string().describe("The token's user"),
    first: z.boolean().describe('False when the run was acknowledged before (`earlier` says by whom)'),
    earlier: z.string().optional().describe('Who acknowledged the run first'),
    pagerduty: z
      .array(
        z.discriminatedUnion('status', [
          z.object({ status: z.literal('acknowledged'), dedupKey: z.string(), triggeredBy: z.string().describe('The step that triggered the alert') }),
          z.object({ status: z.literal('already_resolved'), dedupKey: z.string(), resolvedBy: z.string().describe('The step that resolved the alert') }),
          z.object({ status: z.literal('failed'), dedupKey: z.string(), message: z.string().describe('Why, and what to do: acknowledge it in PagerDuty') }),
        ]),
      )
      .describe('One entry per PagerDuty alert the run triggered; empty when it triggered none'),
  }),
);

/** A sampled auto-approval (`GET /v1/reviews`) and its review, once made (`POST /v1/reviews/:id`). */
export const reviewItemSchema = jsonBodyOf<ReviewItem>()(
  z.object({
    stepId: z.string().describe('The id `POST /v1/reviews/{id}` takes'),
    runId: z.string(),
    playbook: z.string(),
    step: z.string().describe('The playbook step id'),
    prompt: z.string(),
    reason: z.string().nullable().describe("The approval policy's reason, as audited (`auto-approved: confidence 0.95 (high) × impact low`)"),
    autoApprovedAt: isoTime().nullable(),
    startedBy: z.string().describe('Who started the run (who may not review it)'),
    review: z
      .object({
        verdict: z.enum(['agree', 'disagree']),
        note: z.string().nullable(),
        by: z.string(),
        via: z.string().describe('slack, api or cli'),
        at: isoTime(),
      })
      .nullable()
      .describe('Null while pending; a review is final'),
  }),
);

export const reviewListSchema = z.object({ reviews: z.array(reviewItemSchema).describe('Oldest first') });

export function addChatRoutes(router: Router, deps: AckDeps & ReviewDeps): void {
  router.add({
    method: 'POST',
    pattern: '/v1/runs/:id/ack',
    auth: 'write',
    doc: { summary: 'Acknowledge a run as the token user', responses: { 200: { description: 'The acknowledgement', body: ackResultSchema } } },
    handler: async ({ params, user }) => {
      if (!user) throw new QuenchError('unauthorized', 'acknowledging a run needs an API token that names a user');
      return { status: 200, body: await acknowledgeRun(deps, params.id!, { id: user, name: user, via: 'api' }) };
    },
  });
  router.add({
    method: 'GET',
    pattern: '/v1/reviews',
    auth: 'read',
    doc: { summary: 'Auto-approvals sampled for review', query: z.object({ status: z.enum(reviewStatuses).optional(), limit: z.string().regex(/^\d+$/).optional() }), responses: { 200: { description: 'The sampled auto-approvals', body: reviewListSchema } } },
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
    doc: { summary: 'Review a sampled auto-approval', body: reviewBodySchema, responses: { 200: { description: 'The auto-approval with its review', body: reviewItemSchema } } },
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
