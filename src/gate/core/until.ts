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
  const trimmed = text.trim();
  const ms = parseDuration(trimmed);
  if (ms !== undefined && ms > 0) return withinReach(text, nowMs + ms, nowMs);
  if (/^\d{4}-\d{2}-\d{2}/.test(trimmed)) {
    const time = parseRfc3339(trimmed);
    if (!time.ok) return time;
    const at = time.at.getTime();
    if (at <= nowMs) return { ok: false, message: `'${text}' is in the past; the end must be in the future` };
    return withinReach(text, at, nowMs);
  }
  return { ok: false, message: neither(text) };
}

/**
 * What `parseUntil` would refuse whatever the time: a value that is neither a duration nor an
 * RFC 3339 time, or a duration past the limit. For checking a playbook's `deploy.freeze`
 * before it runs (`quench validate`), when "now" is not known yet. A value with a `${{ }}`
 * template is only known once rendered: the action's parameters are checked again then.
 */
export function untilFormatProblem(text: string): string | undefined {
  if (text.includes('${{')) return undefined;
  const trimmed = text.trim();
  const ms = parseDuration(trimmed);
  if (ms !== undefined && ms > 0) {
    // No "now" here, so no end date to name (withinReach would name one in 1971).
    return ms <= MAX_UNTIL_MS ? undefined : `'${text}' is more than a year; freezes and overrides last at most 366 days (lift one early with unfreeze, or set it again)`;
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(trimmed)) {
    const time = parseRfc3339(trimmed);
    return time.ok ? undefined : time.message;
  }
  return neither(text);
}

const neither = (text: string) => `'${text}' is neither a time (2026-12-24T18:00:00Z) nor a duration (30m, 4h, 2d)`;

/** The longest a freeze or an override may last: further is a typo (99999d), not a plan. */
export const MAX_UNTIL_MS = 366 * 86_400_000;

function withinReach(text: string, at: number, nowMs: number): { ok: true; at: Date } | { ok: false; message: string } {
  if (at - nowMs <= MAX_UNTIL_MS) return { ok: true, at: new Date(at) };
  return {
    ok: false,
    message: `'${text}' ends ${new Date(at).toISOString().slice(0, 10)}, more than a year ahead; freezes and overrides last at most 366 days (lift one early with unfreeze, or set it again)`,
  };
}
