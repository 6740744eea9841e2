import { describeVerifyBreak } from './core/chain.js';
import type { VerifyResult } from './trail.js';

/**
 * The stable JSON of one verification, printed by `quench audit verify --json` and answered by
 * `GET /v1/audit/verify`, so the CLI shows the same thing whichever way it reached the trail.
 */
export type VerifyReport =
  | {
      ok: true;
      count: number;
      head: { seq: number; hash: string } | null;
      keyedSince: number | null;
      expectedMatched: number;
      /** Recorded but not chained yet (normally for ms); these entries were not verified. */
      unchained: { entries: number; oldestSeconds: number };
    }
  | { ok: false; count: number; broken: { seq: number; kind: string; message: string } };

export function verifyReport(result: VerifyResult, expectedCount: number): VerifyReport {
  if (result.ok) {
    return {
      ok: true,
      count: result.count,
      head: result.count ? { seq: result.lastSeq, hash: result.lastHash } : null,
      keyedSince: result.keyedSince,
      expectedMatched: expectedCount,
      unchained: result.unchained,
    };
  }
  return { ok: false, count: result.count, broken: { seq: result.broken.seq, kind: result.broken.kind, message: describeVerifyBreak(result.broken) } };
}

/** The human line(s) for a report: stdout when intact, stderr when broken. */
export function verifyText(r: VerifyReport): string {
  if (r.ok) {
    const head = r.head ? `, head ${r.head.seq}:${r.head.hash}` : '';
    const keyed = r.keyedSince === null ? '' : `, HMAC-keyed since entry ${r.keyedSince}`;
    const matched = r.expectedMatched ? `, ${r.expectedMatched} recorded head(s) matched` : '';
    const waiting = r.unchained.entries
      ? `\nwarning: ${r.unchained.entries} recorded entries are not chained yet (oldest ${Math.round(r.unchained.oldestSeconds)} s), so not verified; if this persists, chaining has stopped: see the service log ('audit chain pass failed')`
      : '';
    return `audit trail intact: ${r.count} entries${head}${keyed}${matched}${waiting}\n`;
  }
  return `audit trail BROKEN at sequence ${r.broken.seq}: ${r.broken.message} (${r.count} entries before it verified)\n`;
}
