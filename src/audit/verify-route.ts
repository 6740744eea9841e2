import { z } from 'zod';
import { QuenchError } from '../core/errors.js';
import { jsonBodyOf } from '../http/json-body.js';
import type { Router } from '../http/router.js';
import { parseExpectedHead } from './core/chain.js';
import type { AuditTrail } from './trail.js';
import { type VerifyReport, verifyReport } from './verify-report.js';

/** The report (verify-report.ts VerifyReport), as `quench audit verify --json` prints it. */
const verifyReportSchema = jsonBodyOf<VerifyReport>()(
  z.discriminatedUnion('ok', [
    z.object({
      ok: z.literal(true),
      count: z.number().int().describe('Entries verified'),
      head: z.object({ seq: z.number().int(), hash: z.string() }).nullable().describe('The newest entry (keep it to pass as expect later); null on an empty trail'),
      keyedSince: z.number().int().nullable().describe('Sequence of the HMAC keying marker; null: plain SHA-256 links'),
      expectedMatched: z.number().int().describe('The expect heads found intact'),
      unchained: z
        .object({ entries: z.number().int(), oldestSeconds: z.number() })
        .describe('Recorded but not chained yet (normally for milliseconds): these entries were not verified'),
    }),
    z.object({
      ok: z.literal(false),
      count: z.number().int().describe('Entries verified before the break'),
      broken: z.object({ seq: z.number().int(), kind: z.string(), message: z.string() }).describe('The first broken entry, or an expect head that differs or is missing'),
    }),
  ]),
);

/**
 * `GET /v1/audit/verify?expect=SEQ:HASH…`: walks the chain with the service's key and answers
 * the same report as `quench audit verify --json` (200 intact or broken: the walk itself
 * succeeded). A database that fails during the walk is no verdict: the trail throws
 * `database_unavailable`, answered 503. Read access: it reveals the head, never an entry.
 */
export function addAuditVerifyRoute(router: Router, audit: AuditTrail): void {
  router.add({
    method: 'GET',
    pattern: '/v1/audit/verify',
    auth: 'read',
    doc: { summary: 'Verify the audit hash chain (optionally against heads you kept)', query: z.object({ expect: z.string().optional().describe('seq:hash of a head kept elsewhere; repeatable') }), repeatable: ['expect'], responses: { 200: { description: 'The verification report: intact or broken', body: verifyReportSchema } } },
    handler: async ({ query }) => {
      const expected = new Map<number, string>();
      for (const text of query.getAll('expect')) {
        const parsed = parseExpectedHead(text);
        if ('error' in parsed) throw new QuenchError('bad_request', `expect: ${parsed.error}`);
        if (expected.has(parsed.seq) && expected.get(parsed.seq) !== parsed.hash)
          throw new QuenchError('bad_request', `expect: two different hashes given for entry ${parsed.seq}`);
        expected.set(parsed.seq, parsed.hash);
      }
      const result = await audit.verify({ expected });
      return { status: 200, body: verifyReport(result, expected.size) };
    },
  });
}
