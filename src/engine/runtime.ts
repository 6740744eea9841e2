import type { AuditTrail } from '../audit/trail.js';
import type { ActionRegistry } from '../actions/registry.js';
import type { Config } from '../config/load.js';
import type { Clock } from '../core/clock.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../telemetry/logger.js';
import { type BreakerOptions, type BreakerState, closedBreaker } from './core/circuit.js';
import type { EngineMetrics } from './metrics.js';
import type { HumanStepNotifier } from './notifier.js';
import type { EngineTracing } from './tracing.js';

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
}

export const defaultEngineOptions: EngineOptions = {
  leaseMs: 30_000,
  defaultAttemptTimeoutMs: 5 * 60_000,
  stepTimeoutMs: 60 * 60_000,
  concurrency: 8,
  pollMs: 1_000,
  breaker: { failureThreshold: 5, openMs: 30_000 },
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
}

export function breakerOf(rt: Runtime, target: string): BreakerState {
  return rt.breakers.get(target) ?? closedBreaker;
}
