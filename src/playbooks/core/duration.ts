import { z } from 'zod';

/**
 * Durations in playbooks are strings such as `30s`, `5m`, `1h30m`, `250ms` or `2d`: readable
 * in YAML and in run snapshots. They stay strings in the parsed model (so a parsed playbook
 * re-parses to itself and its content hash is stable) and are turned into milliseconds where
 * they are used, with `durationMs`.
 */

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
type Unit = keyof typeof UNIT_MS;
/** Units must appear largest first, each at most once (`1h30m`, not `30m1h`). */
const UNIT_ORDER: Unit[] = ['d', 'h', 'm', 's', 'ms'];
/** A week is plenty for any step or SLA; beyond it a typo (`5000h`) is more likely than intent. */
export const MAX_DURATION_MS = 7 * UNIT_MS.d;

export type DurationResult = { ok: true; ms: number } | { ok: false; message: string };

/** Parses a duration string; never throws. The message says what a valid duration looks like. */
export function parseDuration(text: string): DurationResult {
  const hint = 'expected a duration such as 30s, 5m, 1h30m or 250ms (units d, h, m, s, ms, largest first)';
  if (typeof text !== 'string' || text.trim() === '') return { ok: false, message: `empty duration; ${hint}` };
  const source = text.trim();
  const parts = source.match(/\d+(?:ms|d|h|m|s)|./g) ?? [];
  let total = 0;
  let lastIndex = -1;
  for (const part of parts) {
    const m = /^(\d+)(ms|d|h|m|s)$/.exec(part);
    if (!m) return { ok: false, message: `invalid duration '${source}'; ${hint}` };
    const unit = m[2] as Unit;
    const index = UNIT_ORDER.indexOf(unit);
    if (index <= lastIndex) return { ok: false, message: `invalid duration '${source}': unit '${unit}' out of order or repeated; ${hint}` };
    lastIndex = index;
    total += Number(m[1]) * UNIT_MS[unit];
  }
  if (total <= 0) return { ok: false, message: `duration '${source}' must be greater than zero` };
  if (total > MAX_DURATION_MS) return { ok: false, message: `duration '${source}' exceeds the maximum of 7d` };
  return { ok: true, ms: total };
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
    description: 'A duration such as 30s, 5m, 1h30m or 250ms (units d, h, m, s, ms).',
    examples: ['30s', '5m', '1h30m'],
    // For editors only: the parser above is the authority (it also bounds the total).
    pattern: '^\\s*(\\d+d)?(\\d+h)?(\\d+m)?(\\d+s)?(\\d+ms)?\\s*$',
  });
