import type { WindowCounts } from '../core/budget.js';
import type { Slo } from '../core/model.js';

/**
 * The one SLI source port: Prometheus and the synthetic source both answer "errors and total
 * (or the error ratio) over each of these windows ending now".
 */
export interface WindowValue {
  /** Error ratio over the window; null when there was no traffic (0/0) or no series. */
  ratio: number | null;
  /** Event counts, when the SLI has them (raw-ratio SLIs do not). */
  counts?: WindowCounts;
}

export interface SliSource {
  readonly name: string;
  /**
   * Values keyed by window length in ms, each window ending at `now`. `signal` aborts when the
   * SLO's evaluation times out, so an abandoned query does not keep holding Prometheus.
   */
  read(slo: Slo, windowsMs: readonly number[], now: Date, signal?: AbortSignal): Promise<Map<number, WindowValue>>;
}
