import { z } from 'zod';
import { QuenchError } from '../core/errors.js';
import type { Router } from '../http/router.js';
import type { AuditTrail } from './trail.js';

function wholeNumber(value: string | null, name: string, fallback: number, max: number): number {
  if (value === null || value === '') return fallback;
  if (!/^\d+$/.test(value)) throw new QuenchError('bad_request', `${name} must be a whole number`);
  return Math.min(Number(value), max);
}

/** `GET /v1/audit?after=SEQ&limit=N`: entries in sequence order; `next` is the `after` of the following page. */
export function addAuditRoutes(router: Router, audit: AuditTrail): void {
  router.add({
    method: 'GET',
    pattern: '/v1/audit',
    auth: 'token',
    doc: { summary: 'Page the audit trail', query: z.object({ after: z.string().regex(/^\d+$/).optional(), limit: z.string().regex(/^\d+$/).optional() }), responses: { 200: { description: '{ entries, next }' } } },
    handler: async ({ query }) => {
      const after = wholeNumber(query.get('after'), 'after', 0, Number.MAX_SAFE_INTEGER);
      const limit = wholeNumber(query.get('limit'), 'limit', 100, 1000);
      const entries = await audit.page({ after, limit: Math.max(limit, 1) });
      const last = entries.at(-1);
      return { status: 200, body: { entries, next: entries.length === Math.max(limit, 1) && last ? last.seq : null } };
    },
  });
}
