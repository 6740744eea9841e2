import type { BurnWindow, Severity, SloWindow } from './model.js';

const H = 3_600_000;
const M = 60_000;

/**
 * The SRE workbook's multiwindow, multi-burn-rate alerts (chapter 5, table 5-8), as Sloth ships
 * them: the share of budget each alert may consume within its long window, and the short window
 * (1/12 of the long) that makes it reset quickly once the burn stops.
 */
export const workbookWindows: ReadonlyArray<{ severity: Severity; budgetShare: number; longMs: number; shortMs: number }> = [
  { severity: 'page', budgetShare: 0.02, longMs: 1 * H, shortMs: 5 * M },
  { severity: 'page', budgetShare: 0.05, longMs: 6 * H, shortMs: 30 * M },
  { severity: 'ticket', budgetShare: 0.1, longMs: 24 * H, shortMs: 2 * H },
  { severity: 'ticket', budgetShare: 0.1, longMs: 72 * H, shortMs: 6 * H },
];

/**
 * Burn-rate windows per SLO period. A factor only makes sense for the period it was chosen
 * for, so instead of stretching the workbook's 30-day factors to any period by budget share
 * (which gives a 7-day SLO a ticket at 0.233×: a burn that leaves 77% of the budget), each
 * common period has its own catalog, as Sloth does, and other periods must list their windows.
 * Factors are budget share × period / long window:
 *
 * - 30d and calendar month: the workbook's 2/5/10/10% (Sloth's google-30d): 14.4/6/3/1.
 * - 28d: the same shares over 28 days (Sloth's google-28d): 13.44/5.6/2.8/0.933.
 * - 7d and calendar week: Sloth's documented 7-day catalog, 8/12.5/20/42%: 13.44/3.5/1.4/0.98.
 * - 14d: the 28-day factors (shares doubled: 4/10/20/20%), so a burn gets the same reaction as
 *   in the four-week catalog it halves.
 * - calendar quarter: the 30-day factors (shares 0.67/1.67/3.33/3.33% of 90 days), so a burn
 *   gets the same reaction as in the month catalog.
 */
const catalog = (factors: [number, number, number, number]): BurnWindow[] =>
  workbookWindows.map((w, i) => ({ severity: w.severity, longMs: w.longMs, shortMs: w.shortMs, factor: factors[i]! }));

const DAY = 24 * H;
const thirtyDays = (): BurnWindow[] => catalog([14.4, 6, 3, 1]);
const twentyEightDays = (): BurnWindow[] => catalog([13.44, 5.6, 2.8, 0.933333333333]);
const sevenDays = (): BurnWindow[] => catalog([13.44, 3.5, 1.4, 0.98]);

const rollingCatalogs = new Map<number, () => BurnWindow[]>([
  [7 * DAY, sevenDays],
  [14 * DAY, twentyEightDays],
  [28 * DAY, twentyEightDays],
  [30 * DAY, thirtyDays],
]);
const calendarCatalogs: Partial<Record<Extract<SloWindow, { kind: 'calendar' }>['unit'], () => BurnWindow[]>> = {
  w: sevenDays,
  M: thirtyDays,
  Q: thirtyDays,
};

/** The catalog's windows for an SLO window, or undefined when there is no catalog for its period. */
export function catalogWindows(window: SloWindow): BurnWindow[] | undefined {
  if (window.kind === 'rolling') return rollingCatalogs.get(window.ms)?.();
  return window.count === 1 ? calendarCatalogs[window.unit]?.() : undefined;
}

export const CATALOG_PERIODS = '7d, 14d, 28d, 30d, and calendar week, month and quarter';

/** Every distinct window length the alerts need, shortest first. */
export function alertWindowLengths(windows: readonly BurnWindow[]): number[] {
  return [...new Set(windows.flatMap((w) => [w.shortMs, w.longMs]))].sort((a, b) => a - b);
}
