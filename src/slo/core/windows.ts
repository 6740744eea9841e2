import { burnFactor } from './budget.js';
import type { BurnWindow, Severity } from './model.js';

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

/** The default windows with their factors scaled to the SLO period, as Sloth does. */
export function defaultBurnWindows(periodMs: number): BurnWindow[] {
  return workbookWindows.map((w) => ({
    severity: w.severity,
    longMs: w.longMs,
    shortMs: w.shortMs,
    factor: burnFactor(w.budgetShare, periodMs, w.longMs),
  }));
}

/** Every distinct window length the alerts need, shortest first. */
export function alertWindowLengths(windows: readonly BurnWindow[]): number[] {
  return [...new Set(windows.flatMap((w) => [w.shortMs, w.longMs]))].sort((a, b) => a - b);
}
