import cron from 'node-cron';
import { formatProblem } from '../definitions/problem.js';
import { QuenchError } from '../core/errors.js';
import type { Component, ServiceContext } from '../service.js';
import { loadSlos } from './definitions.js';
import { SloEvaluator } from './evaluator.js';
import { sloMetrics } from './metrics.js';
import type { SloPort } from './port.js';
import type { SloStatus } from './core/status.js';
import { addSloRoutes } from './routes.js';
import { PrometheusClient } from './sources/prometheus-client.js';
import { prometheusSource } from './sources/prometheus.js';
import { syntheticSource } from './sources/synthetic.js';
import { createSloStore } from './store.js';

const HOUR = 3_600_000;

/** The SLO port over a running evaluator. */
export function evaluatorPort(evaluator: SloEvaluator): SloPort {
  return {
    running: true,
    list: () => evaluator.list(),
    get: (name) => evaluator.get(name),
    forService: (service) => evaluator.list().filter((s) => s.service === service),
    evaluateNow: async () => {
      await evaluator.evaluateAll();
      return evaluator.list();
    },
  };
}

/**
 * The SLO capability: loads QUENCH_SLO_DIR, serves `/v1/slos`, fills `ctx.ports.slo`, and
 * evaluates every SLO on QUENCH_SLO_EVAL_CRON. Invalid SLO files stop start-up with every
 * problem listed, as `quench validate` would print them.
 */
export function sloCapability(ctx: ServiceContext): Component {
  const { config, logger } = ctx;
  const { slos, problems } = loadSlos([config.QUENCH_SLO_DIR]);
  const errors = problems.filter((p) => p.severity === 'error');
  if (errors.length > 0) {
    throw new QuenchError(
      'validation_failed',
      `invalid SLO definitions in ${config.QUENCH_SLO_DIR}:\n${errors.map(formatProblem).join('\n')}`,
    );
  }
  const metrics = sloMetrics(ctx.metrics.registry);
  const client = config.PROMETHEUS_URL
    ? new PrometheusClient({ baseUrl: config.PROMETHEUS_URL, timeoutMs: config.QUENCH_SLO_TIMEOUT_SECONDS * 1000 })
    : undefined;
  const evaluator = new SloEvaluator({
    slos,
    sources: { synthetic: syntheticSource(ctx.clock.now()), ...(client ? { prometheus: prometheusSource(client) } : {}) },
    clock: ctx.clock,
    logger: logger.child({ component: 'slo' }),
    store: createSloStore(ctx.db),
    audit: ctx.audit,
    triggers: () => ctx.ports.triggers,
    metrics,
    concurrency: config.QUENCH_SLO_CONCURRENCY,
    timeoutMs: config.QUENCH_SLO_TIMEOUT_SECONDS * 1000,
    longWindows: config.QUENCH_SLO_LONG_WINDOWS,
  });
  addSloRoutes(ctx.router, () => ctx.ports.slo);
  const store = createSloStore(ctx.db);
  let task: ReturnType<typeof cron.schedule> | undefined;
  let running: Promise<unknown> | undefined;
  let lastDownsample = 0;

  const cycle = async () => {
    const result = await evaluator.evaluateAll();
    logger.debug({ ...result }, 'SLO evaluation cycle');
    // The heartbeat of evaluation (docs/operations.md: QuenchSloEvaluationStalled).
    metrics.lastEvaluation.set(ctx.clock.now().getTime() / 1000);
    // The deploy gate stores each cycle's statuses for every replica (src/gate).
    for (const observe of ctx.ports.sloObservers) await observe(evaluator.list()).catch((err) => logger.error({ err }, 'an SLO observer failed'));
    const nowMs = ctx.clock.now().getTime();
    if (nowMs - lastDownsample > HOUR) {
      lastDownsample = nowMs;
      await store.downsample(ctx.clock.now()).catch((err) => logger.error({ err }, 'down-sampling SLO samples failed'));
    }
  };
  const guarded = () => {
    // A cycle slower than the schedule skips ticks rather than piling up. Only the elected
    // replica evaluates (src/db/leader.ts): one Prometheus load, one audit entry per transition.
    if (running || !ctx.ports.leader.isLeader()) return;
    running = cycle()
      .catch((err) => logger.error({ err }, 'SLO evaluation cycle failed'))
      .finally(() => {
        running = undefined;
      });
  };

  return {
    name: 'slo-evaluator',
    async start() {
      // evaluateNow runs the whole cycle (observers included), as the schedule would. A follower
      // (src/db/leader.ts) reports the leader's stored statuses: its own evaluator never runs.
      const own = evaluatorPort(evaluator);
      const current = (s: SloStatus, stored: Map<string, SloStatus> | undefined) => stored?.get(s.name) ?? s;
      const storedByName = () => {
        if (ctx.ports.leader.isLeader()) return undefined;
        const stored = ctx.ports.sloStored?.() ?? [];
        return stored.length > 0 ? new Map(stored.map((s) => [s.name, s])) : undefined;
      };
      ctx.ports.slo = {
        running: true,
        list: () => {
          const stored = storedByName();
          return own.list().map((s) => current(s, stored));
        },
        get: (name) => {
          const s = own.get(name);
          return s && current(s, storedByName());
        },
        forService: (service) => {
          const stored = storedByName();
          return own.forService(service).map((s) => current(s, stored));
        },
        evaluateNow: async () => (await running, await cycle(), evaluator.list()),
      };
      const withoutSource = slos.filter((s) => s.sli.source === 'prometheus').length;
      if (!client && withoutSource > 0)
        logger.warn({ slos: withoutSource }, 'PROMETHEUS_URL is unset: Prometheus-based SLOs report "no data source"');
      logger.info({ slos: slos.length, cron: config.QUENCH_SLO_EVAL_CRON }, 'SLO evaluator started');
      guarded(); // the first cycle right away: status is live from the first request
      ctx.ports.leader.onChange((leads) => {
        if (leads) guarded(); // a replica taking over evaluates at once, not at the next tick
      });
      task = cron.schedule(config.QUENCH_SLO_EVAL_CRON, guarded, { name: 'slo-evaluator', noOverlap: true });
    },
    async stop() {
      await task?.destroy();
      await running;
    },
  };
}
