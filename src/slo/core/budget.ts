/**
 * Error-budget mathematics, pure and total: every function returns a number or `null` for
 * "no data", never NaN or Infinity. No traffic is neither an error nor a success, so 0/0 is
 * `null` and a budget computed from it stays `null` (a common complaint about Sloth and Pyrra,
 * whose recording rules turn 0/0 into NaN gaps or into a perfect score).
 */

/** Counts over one window. `total` may be fractional: Prometheus `rate × seconds` is. */
export interface WindowCounts {
  errors: number;
  total: number;
}

export function errorRatio(counts: WindowCounts): number | null {
  if (!Number.isFinite(counts.errors) || !Number.isFinite(counts.total) || counts.total <= 0) return null;
  // Counter resets and scrape jitter can make errors exceed total by a hair; clamp.
  return Math.min(1, Math.max(0, counts.errors / counts.total));
}

/** Share of good events, 1 − error ratio. */
export function attainment(ratio: number | null): number | null {
  return ratio === null ? null : 1 - ratio;
}

/** The allowed error ratio: 1 − objective. The objective is a ratio in (0, 1). */
export function budgetRatio(objective: number): number {
  // 1 − 0.999 is 0.0010000000000000009 in floating point; 12 significant digits keep burn
  // rates of exact ratios exact (0.0005 / 0.001 = 0.5) without losing any real objective.
  return Number((1 - objective).toPrecision(12));
}

/** How fast the budget burns: 1 means it lasts exactly the SLO window. */
export function burnRate(ratio: number | null, objective: number): number | null {
  if (ratio === null) return null;
  return ratio / budgetRatio(objective);
}

/** Budget in minutes of total downtime over the SLO window (43.2 min for 99.9% over 30 days). */
export function budgetMinutes(objective: number, windowMs: number): number {
  return (budgetRatio(objective) * windowMs) / 60_000;
}

/**
 * Share of the period's budget spent. The allowance is the budget ratio of the whole period's
 * events (or slices); what is spent is the errors (bad slices) seen so far. With the error
 * ratio over the elapsed part of the window, that is burn rate × elapsed share of the period:
 * a rolling window is always whole (share 1); 30 s into a calendar month at 2% errors (20×
 * a 99.9% budget) spends 20 × 30 s / 31 days ≈ 0.0002 of it, not 20×. Occurrences assume
 * the period's remaining traffic arrives at the rate seen so far. Above 1 the budget is
 * overspent; remaining is then negative, which reports show as such.
 */
export function budgetConsumed(windowRatio: number | null, objective: number, elapsedShare = 1): number | null {
  const burn = burnRate(windowRatio, objective);
  return burn === null ? null : burn * Math.min(1, Math.max(0, elapsedShare));
}

export function budgetRemaining(windowRatio: number | null, objective: number, elapsedShare = 1): number | null {
  const consumed = budgetConsumed(windowRatio, objective, elapsedShare);
  return consumed === null ? null : 1 - consumed;
}

/** Share of the whole budget a burn rate consumes in `durationMs` of an SLO window of `windowMs`. */
export function consumedBy(burn: number, durationMs: number, windowMs: number): number {
  return (burn * durationMs) / windowMs;
}

/**
 * Milliseconds until the remaining budget is gone at the given burn rate: `null` without data,
 * `Infinity`-free (`null` too) when nothing burns, 0 when already exhausted.
 */
export function timeToExhaustionMs(remaining: number | null, burn: number | null, windowMs: number): number | null {
  if (remaining === null || burn === null || burn <= 0) return null;
  if (remaining <= 0) return 0;
  return (remaining * windowMs) / burn;
}

/**
 * The burn-rate threshold that consumes `budgetShare` of the budget within `longWindowMs`, for
 * an SLO over `periodMs`: Sloth's factor = budget% × period hours / long-window hours. For 30
 * days: 2% in 1h → 14.4, 5% in 6h → 6, 10% in 1d → 3, 10% in 3d → 1.
 */
export function burnFactor(budgetShare: number, periodMs: number, longWindowMs: number): number {
  return (budgetShare * periodMs) / longWindowMs;
}

/**
 * The low-traffic guard: a window with fewer requests than `minEvents` says nothing reliable,
 * so it cannot fire an alert (two failed requests at 3 a.m. are not a 100% error ratio worth a
 * page). It counts requests, not slices or samples, so a 5-minute window of 5 one-minute slices
 * still pages on a real burn. It still counts towards the budget.
 */
export function enoughTraffic(requests: number | undefined, minEvents: number): boolean {
  return requests !== undefined && Number.isFinite(requests) && requests > 0 && requests >= minEvents;
}
