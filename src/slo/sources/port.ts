import type { WindowCounts } from '../core/budget.js';
import type { Slo } from '../core/model.js';

/**
 * The one SLI source port: Prometheus and the synthetic source both answer "errors and total
 * (or the error ratio) over each of these windows ending now".
 */
export interface WindowValue {
  /** Error ratio over the window; null when there was no traffic (0/0) or no series. */
  ratio: number | null;
  /**
   * The window's counts in the SLI's own unit: events (occurrences), or slices for the
   * time-slice methods (`errors` bad slices or summed slice error ratios, `total` the slices the
   * window is divided into). Raw-ratio SLIs have none.
   */
  counts?: WindowCounts;
  /** Requests in the window, for the low-traffic guard; absent when the SLI has no request volume (raw, threshold). */
  requests?: number;
}

export interface SliSource {
  readonly name: string;
  /**
   * Values keyed by window length in ms, each window ending at `now`. `signal` aborts when the
   * SLO's evaluation times out, so an abandoned query does not keep holding Prometheus.
   */
  read(slo: Slo, windowsMs: readonly number[], now: Date, signal?: AbortSignal): Promise<Map<number, WindowValue>>;
}
