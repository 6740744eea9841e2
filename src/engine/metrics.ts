import { sql } from 'drizzle-orm';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Database } from '../db/database.js';

/**
 * Engine metrics. Run counts by state and the DLQ size are read from the database at scrape
 * time (so every replica reports the same truth, not its own share); the rest count what this
 * process did.
 */
export interface EngineMetrics {
  attempts: Counter<'action' | 'outcome'>;
  retries: Counter<'action'>;
  takeovers: Counter<never>;
  transitions: Counter<'kind' | 'status'>;
  stepLatency: Histogram<'kind' | 'status'>;
  resultBatchSize: Histogram<never>;
  claims: Counter<'via'>;
  attemptStarts: Counter<'via'>;
}

export function createEngineMetrics(registry: Registry | undefined, db: Database): EngineMetrics {
  const registers = registry ? [registry] : [];
  new Gauge({
    name: 'quench_engine_runs',
    help: 'Runs by state.',
    labelNames: ['state'] as const,
    registers,
    async collect() {
      this.reset();
      const rows = await db.rows<{ state: string; n: number }>(sql`select state, count(*)::int as n from engine_runs group by state`);
      for (const r of rows) this.set({ state: r.state }, r.n);
    },
  });
  new Gauge({
    name: 'quench_engine_dead_letters',
    help: 'Dead-lettered steps not yet retried.',
    registers,
    async collect() {
      const [row] = await db.rows<{ n: number }>(sql`select count(*)::int as n from engine_dead_letters where retried_at is null`);
      this.set(row?.n ?? 0);
    },
  });
  new Gauge({
    name: 'quench_engine_human_steps_waiting',
    help: 'Human steps waiting for a decision.',
    registers,
    async collect() {
      // engine_steps_status_idx (status, kind) answers this without reading the steps.
      const [row] = await db.rows<{ n: number }>(sql`select count(*)::int as n from engine_steps where status = 'waiting' and kind = 'human'`);
      this.set(row?.n ?? 0);
    },
  });
  return {
    attempts: new Counter({
      name: 'quench_engine_step_attempts_total',
      help: 'Action attempts by action and outcome.',
      labelNames: ['action', 'outcome'] as const,
      registers,
    }),
    retries: new Counter({
      name: 'quench_engine_step_retries_total',
      help: 'Attempts that failed and were scheduled for retry.',
      labelNames: ['action'] as const,
      registers,
    }),
    takeovers: new Counter({
      name: 'quench_engine_lease_takeovers_total',
      help: 'Steps taken over from a worker whose lease expired.',
      registers,
    }),
    transitions: new Counter({
      name: 'quench_engine_step_transitions_total',
      help: 'Step state transitions by kind and new status.',
      labelNames: ['kind', 'status'] as const,
      registers,
    }),
    stepLatency: new Histogram({
      name: 'quench_engine_step_duration_seconds',
      help: 'Time a worker spent on a step, from claim to recorded result (or hand-back), by kind.',
      labelNames: ['kind', 'status'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    resultBatchSize: new Histogram({
      name: 'quench_engine_result_batch_size',
      help: 'Step results recorded per transaction (results arriving while one is in flight are committed together).',
      buckets: [1, 2, 4, 8, 16, 32],
      registers,
    }),
    claims: new Counter({
      name: 'quench_engine_step_claims_total',
      help: 'Steps this process claimed, by how: `poll` (a claim statement), `chain` (recording a result claimed its run\'s next step), `start` (starting a run claimed its first step).',
      labelNames: ['via'] as const,
      registers,
    }),
    attemptStarts: new Counter({
      name: 'quench_engine_attempt_starts_total',
      help: 'Action attempts this process started, by how: `own` (a commit of its own after the claim), `chained` (in the commit that claimed the step: a recorded result or a run start).',
      labelNames: ['via'] as const,
      registers,
    }),
  };
}
