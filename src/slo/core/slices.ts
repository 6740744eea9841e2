import type { Budgeting } from './model.js';
import { tidy } from './numbers.js';

/**
 * The time-slice rules every SLI source applies the same way (the PromQL of core/promql.ts and
 * the synthetic integral of core/synthetic.ts), so that one SLO reads the same from either:
 *
 * - slices end at multiples of the slice length (Prometheus' subquery grid); a window holds the
 *   slices ending inside it (core/samples.ts `slicesIn`), with or without traffic;
 * - a slice's error ratio is read over the `rangeMs` ending at its end (the slice length unless
 *   two scrape intervals are longer);
 * - `timeslices`: a slice is bad (counts 1) when its error ratio exceeds 1 − sliceTarget, i.e.
 *   its good ratio misses the target; `ratioTimeslices`: a slice counts its error ratio.
 */
type Sliced = Exclude<Budgeting, { method: 'occurrences' }>;

/** The range each slice's ratio is read over. */
export function sliceRangeMs(b: Sliced): number {
  return b.rangeMs ?? b.sliceMs;
}

/** The error ratio a slice may have and still be good: 1 − sliceTarget (0.05 for 95%, not 0.050000000000000044). */
export function badSliceAbove(sliceTarget: number): number {
  return tidy(1 - sliceTarget);
}

/** What one slice with traffic adds to the window's `errors`. */
export function sliceErrors(b: Sliced, sliceRatio: number): number {
  return b.method === 'ratioTimeslices' ? sliceRatio : sliceRatio > badSliceAbove(b.sliceTarget) ? 1 : 0;
}
