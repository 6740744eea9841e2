import type { AuditTrail } from '../audit/trail.js';
import type { ActionRegistry } from '../actions/registry.js';
import type { Config } from '../config/load.js';
import type { Clock } from '../core/clock.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../telemetry/logger.js';
import { type BreakerOptions, type BreakerState, closedBreaker } from './core/circuit.js';
import type { SlotHandoff } from './handoff.js';
import type { EngineMetrics } from './metrics.js';
import type { HumanStepNotifier } from './notifier.js';
import type { EngineTracing } from './tracing.js';
import type { EngineWaker } from './wake.js';

/** Tunables; defaults suit production, tests shorten them. */
export interface EngineOptions {
  /** How long a claim is valid without a heartbeat; a dead worker's step is taken over after it. */
  leaseMs: number;
  /** Per-attempt timeout for actions whose step declares none. */
  defaultAttemptTimeoutMs: number;
  /** Whole-step timeout for actions (all attempts and back-off together). */
  stepTimeoutMs: number;
  /** Steps a worker runs at once. */
  concurrency: number;
  /** Backstop poll when no NOTIFY arrives (timers, lost notifications, other replicas' expired leases). */
  pollMs: number;
  breaker: BreakerOptions;
  /**
   * Which clock leases are granted and judged by. `database` (production): PostgreSQL's
   * `now()`, one clock for every replica, so a replica whose clock runs ahead never takes over
   * a live lease. `injected`: the engine's clock, for tests that move time by hand.
   */
  leaseClock: 'database' | 'injected';
  /** How often a running attempt extends its lease; 0: a third of the lease. */
  heartbeatMs: number;
  /** Back-off before retrying to record a result after an infrastructure error (doubles each time). */
  recordRetryMs: number;
  /** Tries to record a result before giving up on it (the lease then expires and another worker takes over). */
  recordTries: number;
}

export const defaultEngineOptions: EngineOptions = {
  leaseMs: 30_000,
  defaultAttemptTimeoutMs: 5 * 60_000,
  stepTimeoutMs: 60 * 60_000,
  concurrency: 8,
  pollMs: 1_000,
  breaker: { failureThreshold: 5, openMs: 30_000 },
  leaseClock: 'database',
  heartbeatMs: 0,
  recordRetryMs: 200,
  recordTries: 6,
};

/** Everything the engine's parts share; built once per service by createEngine. */
export interface Runtime {
  db: Database;
  audit: AuditTrail;
  clock: Clock;
  logger: Logger;
  config: Config;
  actions: ActionRegistry;
  metrics: EngineMetrics;
  tracing: EngineTracing;
  notifier: () => HumanStepNotifier;
  ports: () => Record<string, unknown>;
  env: NodeJS.ProcessEnv;
  random: () => number;
  options: EngineOptions;
  /** Circuit breakers by action target; per process (see ARCHITECTURE.md). */
  breakers: Map<string, BreakerState>;
  /** Wakes workers after a commit that made a step due (never NOTIFY inside a transaction). */
  wake: EngineWaker;
  /** Free slots of this process's started workers, for the first step of a run it starts (handoff.ts). */
  handoff: SlotHandoff;
}

const runningSteps = new WeakMap<Runtime, Set<string>>();

/** Steps this engine (this process) is running now, whichever worker: never claimed again while they run. */
export function runningOf(rt: Runtime): Set<string> {
  let set = runningSteps.get(rt);
  if (!set) runningSteps.set(rt, (set = new Set()));
  return set;
}

export function breakerOf(rt: Runtime, target: string): BreakerState {
  return rt.breakers.get(target) ?? closedBreaker;
}
