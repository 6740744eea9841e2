import { z } from 'zod';
import { QuenchError } from '../core/errors.js';
import type { Router } from '../http/router.js';
import { readJson } from '../http/body.js';
import { runStates } from './core/states.js';
import type { Engine } from './engine.js';
import { parseRfc3339 } from '../core/rfc3339.js';
import { decisionAnswerSchema, runDetailSchema, runListSchema } from './route-schemas.js';

/**
 * `GET /v1/runs`, `GET /v1/runs/:id`, `POST /v1/steps/:id/decision`. The decider is the
 * identity behind the bearer token, never a field of the body.
 */
export const decisionBodySchema = z.discriminatedUnion('decision', [
  z.strictObject({ decision: z.literal('approve'), comment: z.string().max(2000).optional() }),
  z.strictObject({ decision: z.literal('reject'), reason: z.string().trim().min(1, 'a rejection needs a reason').max(2000) }),
  z.strictObject({ decision: z.literal('choose'), value: z.string().min(1), comment: z.string().max(2000).optional() }),
  z.strictObject({ decision: z.literal('input'), value: z.string().max(10_000) }),
]);

export function addEngineRoutes(router: Router, engine: () => Engine): void {
  router.add({
    method: 'GET',
    pattern: '/v1/runs',
    auth: 'read',
    doc: {
      summary: 'List runs, newest first',
      query: z.object({ state: z.string().optional().describe(`Comma-separated run states: ${runStates.join(', ')}`), limit: z.string().regex(/^\d+$/).optional(), before: z.string().optional().describe('Runs created before this time: RFC 3339 with Z or an offset, or a date (midnight UTC); or the next of the previous page'), correlationId: z.string().optional() }),
      repeatable: ['state'],
      responses: { 200: { description: '{ runs, next }: pass next as before for the next page', body: runListSchema } },
    },
    handler: async ({ query }) => {
      const states = query.getAll('state').flatMap((s) => s.split(','));
      const bad = states.filter((s) => !(runStates as readonly string[]).includes(s));
      if (bad.length) throw new QuenchError('bad_request', `unknown run state(s) ${bad.join(', ')}; expected ${runStates.join(', ')}`);
      const limit = query.get('limit');
      if (limit !== null && !/^\d+$/.test(limit)) throw new QuenchError('bad_request', 'limit must be a whole number');
      // The one strict parser (src/core/rfc3339.ts), not Date.parse: no rolled-over dates, no
      // time read in the machine's own zone, years 0001-9999 only (what the database stores).
      const before = query.get('before');
      const time = before === null ? undefined : parseRfc3339(before);
      if (time && !time.ok) throw new QuenchError('bad_request', `before ${time.message}`);
      const runs = await engine().listRuns({
        state: states as never,
        ...(limit ? { limit: Number(limit) } : {}),
        ...(time?.ok ? { before: time.at } : {}),
        ...(query.get('correlationId') ? { correlationId: query.get('correlationId')! } : {}),
      });
      return { status: 200, body: { runs, next: runs.length > 0 ? runs.at(-1)!.createdAt.toISOString() : null } };
    },
  });
  router.add({
    method: 'GET',
    pattern: '/v1/runs/:id',
    auth: 'read',
    doc: { summary: 'One run with its steps', responses: { 200: { description: 'The run', body: runDetailSchema }, 404: { description: 'No such run' } } },
    handler: async ({ params }) => {
      const run = await engine().getRun(params.id!);
      if (!run) throw new QuenchError('not_found', `no run with id ${params.id}`);
      return { status: 200, body: run };
    },
  });
  router.add({
    method: 'POST',
    pattern: '/v1/steps/:id/decision',
    auth: 'write',
    doc: {
      summary: 'Decide a human step (approve, reject, choose, input) as the token user',
      body: decisionBodySchema,
      responses: { 200: { description: 'The decision as recorded', body: decisionAnswerSchema }, 409: { description: 'The step is not waiting for this decision' } },
    },
    handler: async ({ params, req, user }) => {
      if (!user) throw new QuenchError('unauthorized', 'deciding a step needs an API token that names a user');
      const b = await readJson(req, decisionBodySchema, 64 * 1024);
      const decision =
        b.decision === 'approve'
          ? { outcome: 'approve' as const, ...(b.comment ? { comment: b.comment } : {}) }
          : b.decision === 'reject'
            ? { outcome: 'reject' as const, reason: b.reason }
            : b.decision === 'choose'
              ? { outcome: 'choose' as const, value: b.value }
              : { outcome: 'input' as const, value: b.value };
      const outcome = await engine().decide(params.id!, decision, { type: 'user', id: user }, { via: 'api' });
      const body: z.input<typeof decisionAnswerSchema> =
        outcome.status === 'decided'
          ? { status: 'decided', stepId: params.id!, runId: outcome.runId, result: outcome.result, by: user }
          : { status: 'approval_recorded', stepId: params.id!, runId: outcome.runId, approvals: outcome.approvals, required: outcome.required, by: user };
      return { status: 200, body };
    },
  });
}
