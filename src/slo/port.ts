import type { SloStatus } from './core/status.js';

/**
 * What other capabilities read of the SLOs (the engine's `slo.check` action, the deploy gate,
 * reports): the latest status of each budget, and a way to evaluate now.
 */
export interface SloPort {
  /** False until the evaluator runs (CLI commands, or the service still starting). */
  readonly running: boolean;
  list(): SloStatus[];
  get(name: string): SloStatus | undefined;
  /** Every budget of one service (an OpenSLO SLO with two objectives has two). */
  forService(service: string): SloStatus[];
  /** Runs one evaluation cycle now and returns the fresh statuses. */
  evaluateNow(): Promise<SloStatus[]>;
}

/** The port before the evaluator starts: no SLOs known. */
export const idleSloPort: SloPort = {
  running: false,
  list: () => [],
  get: () => undefined,
  forService: () => [],
  evaluateNow: async () => [],
};
