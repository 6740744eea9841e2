import { parseRfc3339 } from '../../core/rfc3339.js';
import { parseDuration } from '../../slo/core/duration.js';

/**
 * `--until` and `until` fields: a duration from now (`2h`, `3d`), or a time in the strict
 * RFC 3339 grammar the reports use (../../core/rfc3339.ts): a date-time with `Z` or an offset,
 * or a date alone meaning midnight UTC. Not Date.parse, which rolled 2026-02-30 over to 2 March
 * and read a time without a zone in the machine's own zone (another instant on each replica).
 * Returns the instant, or a message naming the value and saying what to write instead.
 */
export function parseUntil(text: string, nowMs: number): { ok: true; at: Date } | { ok: false; message: string } {
  const read = readUntil(text);
  if (!read.ok) return read;
  if ('durationMs' in read) return withinReach(text, nowMs + read.durationMs, nowMs);
  const at = read.at.getTime();
  if (at <= nowMs) return { ok: false, message: `'${text}' is in the past; the end must be in the future` };
  return withinReach(text, at, nowMs);
}

/**
 * What `parseUntil` would refuse whatever the time: a value that is neither a duration nor an
 * RFC 3339 time, or a duration past the limit. For checking a playbook's `deploy.freeze`
 * before it runs (`quench validate`), when "now" is not known yet.
 */
export function untilFormatProblem(text: string): string | undefined {
  const read = readUntil(text);
  if (!read.ok) return read.message;
  // No "now" here, so no end date to name (withinReach would name one in 1971).
  if ('durationMs' in read && read.durationMs > MAX_UNTIL_MS) {
    return `'${text}' is more than a year; freezes and overrides last at most 366 days (lift one early with unfreeze, or set it again)`;
  }
  return undefined;
}

/** The two forms an `until` is written in, told apart before either is judged against now. */
function readUntil(text: string): { ok: true; durationMs: number } | { ok: true; at: Date } | { ok: false; message: string } {
  const trimmed = text.trim();
  const ms = parseDuration(trimmed);
  if (ms !== undefined && ms > 0) return { ok: true, durationMs: ms };
  if (/^\d{4}-\d{2}-\d{2}/.test(trimmed)) return parseRfc3339(trimmed);
  return { ok: false, message: `'${text}' is neither a time (2026-12-24T18:00:00Z) nor a duration (30m, 4h, 2d)` };
}

/** The longest a freeze or an override may last: further is a typo (99999d), not a plan. */
export const MAX_UNTIL_MS = 366 * 86_400_000;

function withinReach(text: string, at: number, nowMs: number): { ok: true; at: Date } | { ok: false; message: string } {
  if (at - nowMs <= MAX_UNTIL_MS) return { ok: true, at: new Date(at) };
  return {
    ok: false,
    message: `'${text}' ends ${new Date(at).toISOString().slice(0, 10)}, more than a year ahead; freezes and overrides last at most 366 days (lift one early with unfreeze, or set it again)`,
  };
}
