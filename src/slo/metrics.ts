import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The SLO metrics, named as the issue and docs/slo.md list them. */
export interface SloMetrics {
  objective: Gauge<'slo' | 'service'>;
  budgetRemaining: Gauge<'slo' | 'service'>;
  burnRate: Gauge<'slo' | 'service' | 'window'>;
  alertFiring: Gauge<'slo' | 'service' | 'severity'>;
  alertNoData: Gauge<'slo' | 'service' | 'severity'>;
  evaluationSeconds: Histogram<'source'>;
  evaluationErrors: Counter<'slo' | 'reason'>;
  /** Per replica: only the leader evaluates, so a stale value on every replica means no one does. */
  lastEvaluation: Gauge;
  /** QUENCH_SLO_LONG_WINDOWS=stored: raw reads of stretches without stored rows (restarts, new SLOs). */
  storedGapReads?: Counter<'slo'>;
}

const registered = new WeakMap<Registry, SloMetrics>();

/** Registers once per registry (a service and a CLI evaluation may share none, tests share one). */
export function sloMetrics(registry: Registry): SloMetrics {
  const existing = registered.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const m: SloMetrics = {
    objective: new Gauge({
      name: 'quench_slo_objective_ratio',
      help: 'SLO objective as a ratio (0.999 for 99.9%).',
      labelNames: ['slo', 'service'],
      registers,
    }),
    budgetRemaining: new Gauge({
      name: 'quench_slo_error_budget_remaining_ratio',
      help: 'Share of the error budget left in the SLO window (negative when overspent); absent without data.',
      labelNames: ['slo', 'service'],
      registers,
    }),
    burnRate: new Gauge({
      name: 'quench_slo_burn_rate',
      help: 'Error-budget burn rate over each alert window (1 = the budget lasts exactly the SLO window).',
      labelNames: ['slo', 'service', 'window'],
      registers,
    }),
    alertFiring: new Gauge({
      name: 'quench_slo_alert_firing',
      help: '1 while the burn-rate alert of this severity fires, else 0.',
      labelNames: ['slo', 'service', 'severity'],
      registers,
    }),
    alertNoData: new Gauge({
      name: 'quench_slo_alert_no_data',
      help: '1 while a burn window of this severity has no data (the alert state is held, not resolved), else 0.',
      labelNames: ['slo', 'service', 'severity'],
      registers,
    }),
    evaluationSeconds: new Histogram({
      name: 'quench_slo_evaluation_seconds',
      help: 'Time to evaluate one SLO (query and budget maths).',
      labelNames: ['source'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    evaluationErrors: new Counter({
      name: 'quench_slo_evaluation_errors_total',
      help: 'SLO evaluations that failed, by reason (error code).',
      labelNames: ['slo', 'reason'],
      registers,
    }),
    storedGapReads: new Counter({
      name: 'quench_slo_stored_gap_reads_total',
      help: 'Raw Prometheus reads of stretches of a long window without stored rows (QUENCH_SLO_LONG_WINDOWS=stored).',
      labelNames: ['slo'],
      registers,
    }),
    lastEvaluation: new Gauge({
      name: 'quench_slo_last_evaluation_timestamp_seconds',
      help: 'Unix time this replica last completed an SLO evaluation cycle (absent until its first; only the leader evaluates).',
      registers,
    }),
  };
  registered.set(registry, m);
  return m;
}
