import { parseDurationText } from '../../core/duration.js';

/**
 * Durations in SLO files: the grammar shared with playbooks (../../core/duration.ts), plus the
 * OpenSLO calendar shorthands `M`, `Q` and `Y` (30, 90 and 365 days in a rolling window).
 */
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const r = parseDurationText(text, { calendar: true });
  return r.ok ? r.ms : undefined;
}

/** The calendar unit of an OpenSLO calendar window duration (`1M`, `1w`, `1Q`, `1Y`, `1d`). */
export function calendarUnit(text: string): { count: number; unit: 'd' | 'w' | 'M' | 'Q' | 'Y' } | undefined {
  const m = /^(\d+)(d|w|M|Q|Y|y)$/.exec(text.trim());
  if (!m) return undefined;
  const unit = m[2] === 'y' ? 'Y' : (m[2] as 'd' | 'w' | 'M' | 'Q' | 'Y');
  return { count: Number(m[1]), unit };
}

/**
 * A PromQL range: the largest unit that divides evenly (`1h`, not `3600s`), so that generated
 * rule names and queries read like hand-written ones (Sloth's `ratio_rate5m`).
 */
export function formatDuration(ms: number): string {
  const units: Array<[string, number]> = [
    ['w', UNIT_MS.w!],
    ['d', UNIT_MS.d!],
    ['h', UNIT_MS.h!],
    ['m', UNIT_MS.m!],
    ['s', UNIT_MS.s!],
  ];
  for (const [unit, size] of units) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${Math.max(1, Math.round(ms))}ms`;
}
