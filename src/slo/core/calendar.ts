import { parseDuration } from './duration.js';
import type { SloWindow } from './model.js';

/**
 * Calendar-aligned SLO windows (this week, this month in Europe/Berlin) with IANA time zones,
 * using only `Intl` so the core stays free of I/O. Local wall-clock times are mapped to instants
 * by correcting for the zone's offset at that moment (twice, for DST edges).
 */
interface Wall {
  y: number;
  mo: number; // 1..12
  d: number;
  h: number;
  mi: number;
  s: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

function wallOf(ms: number, timeZone: string): Wall {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(ms))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return { y: parts.year!, mo: parts.month!, d: parts.day!, h: parts.hour!, mi: parts.minute!, s: parts.second! };
}

const wallAsUtc = (w: Wall) => Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s);

const sameWall = (a: Wall, b: Wall) => wallAsUtc(a) === wallAsUtc(b);

/**
 * The instant at which the wall clock in `timeZone` shows `w`. A wall time that occurs twice
 * (clocks set back) is its first occurrence; one that does not exist (clocks set forward, e.g.
 * midnight in Santiago on 2026-09-06) is moved forward by the gap, to the first instant of the
 * day — never an hour early into the previous day.
 */
export function instantOf(w: Wall, timeZone: string): number {
  const guess = wallAsUtc(w);
  const offsetAt = (ms: number) => wallAsUtc(wallOf(ms, timeZone)) - ms;
  // The zone's offsets a day before and a day after: the same, except around a change.
  const before = guess - offsetAt(guess - 86_400_000);
  const after = guess - offsetAt(guess + 86_400_000);
  const exact = [before, after].filter((ms) => sameWall(wallOf(ms, timeZone), w));
  if (exact.length > 0) return Math.min(...exact);
  // A gap: read with the offset before the change, the wall time moves forward by the gap.
  return before;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** The wall-clock time `timeZone` shows at `ms`, as `2022-01-01 12:00:00`. */
export function wallTimeText(ms: number, timeZone: string): string {
  const w = wallOf(ms, timeZone);
  return `${pad(w.y, 4)}-${pad(w.mo)}-${pad(w.d)} ${pad(w.h)}:${pad(w.mi)}:${pad(w.s)}`;
}

/** The instant `2022-01-01T12:00:00+02:00` names (its wall time less its offset; `Z` is +00:00). */
export function instantOfOffsetTime(text: string): number | undefined {
  const m = /^(.*?)(?:\.\d+)?(Z|([+-])(\d{2}):?(\d{2}))$/i.exec(text.trim());
  const w = m ? parseWallTime(m[1]!) : undefined;
  if (!m || !w) return undefined;
  const offsetMin = m[2]!.toUpperCase() === 'Z' ? 0 : (m[3] === '-' ? -1 : 1) * (+m[4]! * 60 + +m[5]!);
  return wallAsUtc(w) - offsetMin * 60_000;
}

/** `2022-01-01 12:00:00` / `2022-01-01T12:00:00` (no zone: OpenSLO's format) as wall-clock fields. */
export function parseWallTime(text: string): Wall | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(text.trim());
  if (!m) return undefined;
  const w = { y: +m[1]!, mo: +m[2]!, d: +m[3]!, h: +(m[4] ?? 0), mi: +(m[5] ?? 0), s: +(m[6] ?? 0) };
  return w.mo >= 1 && w.mo <= 12 && w.d >= 1 && w.d <= 31 && w.h < 24 && w.mi < 60 && w.s < 60 ? w : undefined;
}

function addUnits(w: Wall, unit: 'd' | 'w' | 'M' | 'Q' | 'Y', n: number): Wall {
  if (unit === 'd' || unit === 'w') {
    const days = unit === 'd' ? n : 7 * n;
    const t = new Date(Date.UTC(w.y, w.mo - 1, w.d + days));
    return { ...w, y: t.getUTCFullYear(), mo: t.getUTCMonth() + 1, d: t.getUTCDate() };
  }
  const months = unit === 'M' ? n : unit === 'Q' ? 3 * n : 12 * n;
  const index = w.y * 12 + (w.mo - 1) + months;
  const y = Math.floor(index / 12);
  const mo = (index % 12) + 1;
  // An anchor on the 29th–31st falls on the month's last day in shorter months (Jan 31 → Feb 28
  // → Mar 31), never spilling into the next month.
  const lastDay = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  return { ...w, y, mo, d: Math.min(w.d, lastDay) };
}

/** The default anchor: Monday for weeks, the 1st of January for months, quarters and years. */
function defaultAnchor(unit: 'd' | 'w' | 'M' | 'Q' | 'Y'): Wall {
  // 2024-01-01 was a Monday.
  return unit === 'w' ? { y: 2024, mo: 1, d: 1, h: 0, mi: 0, s: 0 } : { y: 2000, mo: 1, d: 1, h: 0, mi: 0, s: 0 };
}

/** The current window `[startMs, endMs)` containing `nowMs`. */
export function windowBounds(window: SloWindow, nowMs: number): { startMs: number; endMs: number } {
  if (window.kind === 'rolling') return { startMs: nowMs - window.ms, endMs: nowMs };
  const { unit, count, timeZone } = window;
  const anchor = (window.anchor && parseWallTime(window.anchor)) || defaultAnchor(unit);
  // Estimate the number of whole periods since the anchor, then correct by stepping.
  const approxPeriodMs = { d: 864e5, w: 6048e5, M: 2_629_746_000, Q: 7_889_238_000, Y: 31_556_952_000 }[unit] * count;
  let k = Math.floor((nowMs - instantOf(anchor, timeZone)) / approxPeriodMs);
  const startOf = (i: number) => instantOf(addUnits(anchor, unit, i * count), timeZone);
  while (startOf(k) > nowMs) k--;
  while (startOf(k + 1) <= nowMs) k++;
  return { startMs: startOf(k), endMs: startOf(k + 1) };
}

/** The full length of the window (a calendar month's own length). */
export function periodMs(window: SloWindow, nowMs: number): number {
  if (window.kind === 'rolling') return window.ms;
  const { startMs, endMs } = windowBounds(window, nowMs);
  return endMs - startMs;
}

/** Nominal period, for burn factors of calendar windows (a month is 30 days, as in Sloth). */
export function nominalPeriodMs(window: SloWindow): number {
  if (window.kind === 'rolling') return window.ms;
  return parseDuration(`${window.count}${window.unit}`)!;
}
