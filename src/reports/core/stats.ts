/** Order statistics for the response figures: nearest-rank percentiles (no interpolation). */

export interface Spread {
  count: number;
  /** Seconds; null without samples. */
  median: number | null;
  p90: number | null;
}

/** The nearest-rank percentile: the smallest value with at least `p` of the values at or below it. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

export function spread(valuesSeconds: readonly number[]): Spread {
  return { count: valuesSeconds.length, median: percentile(valuesSeconds, 0.5), p90: percentile(valuesSeconds, 0.9) };
}
