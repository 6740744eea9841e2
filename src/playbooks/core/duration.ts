import { z } from 'zod';
import { DURATION_PATTERN, type DurationResult, parseDurationText } from '../../core/duration.js';

/**
 * Durations in playbooks are strings such as `30s`, `5m`, `1h30m`, `1.5h`, `250ms` or `1w`: readable
 * in YAML and in run snapshots. They stay strings in the parsed model (so a parsed playbook
 * re-parses to itself and its content hash is stable) and are turned into milliseconds where
 * they are used, with `durationMs`.
 */

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
type Unit = keyof typeof UNIT_MS;
/** Units largest first, for the canonical form. */
const UNIT_ORDER: Unit[] = ['d', 'h', 'm', 's', 'ms'];
/** A week is plenty for any step or SLA; beyond it a typo (`5000h`) is more likely than intent. */
export const MAX_DURATION_MS = 7 * UNIT_MS.d;

export type { DurationResult } from '../../core/duration.js';

/** Parses a duration (the grammar shared with SLO files, ../../core/duration.ts) and bounds it; never throws. */
export function parseDuration(text: string): DurationResult {
  const r = parseDurationText(text);
  if (r.ok && r.ms > MAX_DURATION_MS) return { ok: false, message: `duration '${text.trim()}' exceeds the maximum of 7d (1w)` };
  return r;
}

/** Milliseconds of a duration that passed validation; throws on an invalid one (a programming error). */
export function durationMs(text: string): number {
  const r = parseDuration(text);
  if (!r.ok) throw new RangeError(r.message);
  return r.ms;
}

/** The canonical string for a number of milliseconds (`5400000` → `1h30m`). */
export function formatDuration(ms: number): string {
  if (!Number.isInteger(ms) || ms <= 0) throw new RangeError(`cannot format ${ms} ms as a duration`);
  let rest = ms;
  let out = '';
  for (const unit of UNIT_ORDER) {
    const n = Math.floor(rest / UNIT_MS[unit]);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * UNIT_MS[unit];
    }
  }
  return out;
}

/** The zod type for a duration field. */
export const durationSchema = z
  .string()
  .superRefine((value, ctx) => {
    const r = parseDuration(value);
    if (!r.ok) ctx.addIssue({ code: 'custom', message: r.message });
  })
  .meta({
    description: 'A duration such as 30s, 5m, 1h30m, 1.5h or 1w (units w, d, h, m, s, ms, largest first; at most 7d).',
    examples: ['30s', '5m', '1h30m'],
    // For editors only: the parser is the authority (it also checks the order and bounds the total).
    pattern: DURATION_PATTERN,
  });
