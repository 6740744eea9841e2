import { z } from 'zod';
import { QuenchError } from '../core/errors.js';
import { isoTime, jsonBodyOf } from '../http/json-body.js';
import type { Router } from '../http/router.js';
import type { AuditEvent } from './core/entry.js';
import type { AuditTrail } from './trail.js';

/** One audit entry as `GET /v1/audit` pages it (core/entry.ts AuditEvent; `data` is any JSON object). */
const auditEventSchema = jsonBodyOf<Omit<AuditEvent, 'data'> & { data: Record<string, unknown> }>()(
  z.object({
    seq: z.number().int().describe('Position in the chain, from 1'),
    at: isoTime(),
    actor: z.object({ type: z.enum(['user', 'system']).describe('user: a person (Slack or API identity); system: a Quench component'), id: z.string() }),
    action: z.string().describe('Dotted: `run.started`, `step.decided`, `gate.freeze`, …'),
    subject: z.object({ type: z.string(), id: z.string() }),
    data: z.record(z.string(), z.unknown()).describe("The action's details"),
    correlationId: z.string().nullable(),
    prevHash: z.string().describe("The previous entry's hash (what chains the trail)"),
    hash: z.string(),
  }),
);

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
    doc: {
      summary: 'Page the audit trail',
      query: z.object({ after: z.string().regex(/^\d+$/).optional(), limit: z.string().regex(/^\d+$/).optional() }),
      responses: {
        200: {
          description: 'Entries in sequence order',
          body: z.object({ entries: z.array(auditEventSchema), next: z.number().int().nullable().describe('The `after` of the next page; null on the last') }),
        },
      },
    },
    handler: async ({ query }) => {
      const after = wholeNumber(query.get('after'), 'after', 0, Number.MAX_SAFE_INTEGER);
      const limit = wholeNumber(query.get('limit'), 'limit', 100, 1000);
      const entries = await audit.page({ after, limit: Math.max(limit, 1) });
      const last = entries.at(-1);
      return { status: 200, body: { entries, next: entries.length === Math.max(limit, 1) && last ? last.seq : null } };
    },
  });
}
