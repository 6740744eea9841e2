const UNIT: Record<string, number> = { s: 1000, m: 60_000, h: 3600_000, d: 86_400_000, w: 7 * 86_400_000 };
const CALENDAR: Record<string, number> = { day: 1, week: 7, month: 30, quarter: 91, year: 365 };

/**
 * The length of an SLO window as SloStatus.window describes it: a rolling `28d`, or
 * `calendar month (UTC)` (a calendar window counts as its nominal length: 30 days a month,
 * 91 a quarter, so "attainment over the SLO's own window" reads the last such stretch).
 */
export function windowMs(window: string): number | null {
  const rolling = /^(\d+)(s|m|h|d|w)$/.exec(window.trim());
  if (rolling) return Number(rolling[1]) * UNIT[rolling[2]!]!;
  const calendar = /^calendar (?:(\d+) )?(day|week|month|quarter|year)s? /.exec(window.trim());
  if (calendar) return Number(calendar[1] ?? 1) * CALENDAR[calendar[2]!]! * UNIT.d!;
  return null;
}
