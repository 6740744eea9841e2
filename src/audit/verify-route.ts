import { z } from 'zod';
import { QuenchError } from '../core/errors.js';
import type { Router } from '../http/router.js';
import { parseExpectedHead } from './core/chain.js';
import type { AuditTrail } from './trail.js';
import { verifyReport } from './verify-report.js';

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
    doc: { summary: 'Verify the audit hash chain (optionally against heads you kept)', query: z.object({ expect: z.string().optional().describe('seq:hash of a head kept elsewhere; repeatable') }), repeatable: ['expect'], responses: { 200: { description: 'The verification report' } } },
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
