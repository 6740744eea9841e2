/**
 * Durations as SLO files write them: Prometheus style (`30s`, `5m`, `1h`, `28d`, `4w`, combined
 * `1h30m`) and OpenSLO shorthand, where `M`, `Q` and `Y` are calendar months, quarters and years
 * (a lower-case `m` is always minutes, as in both specs). Rolling month-like units are taken as
 * 30, 90 and 365 days: Sloth and Pyrra do the same.
 */
const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  M: 30 * 86_400_000,
  Q: 90 * 86_400_000,
  y: 365 * 86_400_000,
  Y: 365 * 86_400_000,
};

const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|M|Q|y|Y)/g;

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '' || !/^(\d+(?:\.\d+)?(ms|s|m|h|d|w|M|Q|y|Y))+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(PART)) total += Number(amount) * UNIT_MS[unit!]!;
  return total > 0 ? total : undefined;
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
