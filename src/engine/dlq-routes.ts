import { z } from 'zod';
import { QuenchError } from '../core/errors.js';
import type { Router } from '../http/router.js';
import type { Engine } from './engine.js';
import { deadLetterListSchema, deadLetterRetriedSchema } from './route-schemas.js';

/**
 * `GET /v1/dlq` and `POST /v1/dlq/:id/retry`: the dead-lettered steps, for `quench dlq` beside
 * a running service (the embedded database admits one process). A re-drive is recorded as the
 * token's user, like every other write on /v1.
 */
export function addDeadLetterRoutes(router: Router, engine: () => Engine): void {
  router.add({
    method: 'GET',
    pattern: '/v1/dlq',
    auth: 'read',
    doc: {
      summary: 'Dead-lettered steps',
      query: z.object({ all: z.enum(['true', 'false']).optional().describe('true: the re-driven ones too'), limit: z.string().regex(/^\d+$/).optional() }),
      responses: { 200: { description: 'The open dead letters (all=true: every one), newest first', body: deadLetterListSchema } },
    },
    handler: async ({ query }) => {
      const all = query.get('all');
      if (all !== null && all !== 'true' && all !== 'false') throw new QuenchError('bad_request', 'all must be true or false');
      const limit = query.get('limit');
      if (limit !== null && !/^\d+$/.test(limit)) throw new QuenchError('bad_request', 'limit must be a whole number');
      const deadLetters = await engine().listDeadLetters({ all: all === 'true', ...(limit ? { limit: Number(limit) } : {}) });
      return { status: 200, body: { deadLetters } };
    },
  });
  router.add({
    method: 'POST',
    pattern: '/v1/dlq/:id/retry',
    auth: 'write',
    doc: { summary: 'Retry a dead-lettered step', responses: { 200: { description: 'Re-driven: the step is ready again, its run reopened', body: deadLetterRetriedSchema } } },
    handler: async ({ params, user }) => {
      if (!user) throw new QuenchError('unauthorized', 're-driving a step needs an API token that names a user');
      const { runId, stepId } = await engine().retryDeadLetter(params.id!, { type: 'user', id: user });
      return { status: 200, body: { id: params.id!, runId, stepId, by: user } satisfies z.input<typeof deadLetterRetriedSchema> };
    },
  });
}
