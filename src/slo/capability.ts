import { type FSWatcher, watch } from 'node:fs';
import cron from 'node-cron';
import { formatProblem, type Problem } from '../definitions/problem.js';
import { QuenchError } from '../core/errors.js';
import type { Component, ServiceContext } from '../service.js';
import { loadSlos } from './definitions.js';
import { SloEvaluator } from './evaluator.js';
import { sloMetrics } from './metrics.js';
import type { SloPort } from './port.js';
import type { SloStatus } from './core/status.js';
import { addSloRoutes } from './routes.js';
import { dataSourceSources } from './sources/datasources.js';
import { PrometheusClient } from './sources/prometheus-client.js';
import { prometheusSource } from './sources/prometheus.js';
import { syntheticSource } from './sources/synthetic.js';
import { createSloStore } from './store.js';

const HOUR = 3_600_000;

/** How often QUENCH_SLO_DIR is re-read besides file-change notices (as playbooks are). */
export const SLO_RELOAD_INTERVAL_MS = 30_000;

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
export function sloCapability(ctx: ServiceContext): Component & { reload(): Promise<void> } {
  const { config, logger } = ctx;
  // Playbooks load (and reload) on their own, before this capability: an SLO naming one that is
  // not loaded is a warning here (quench validate, reading both folders, makes it an error).
  const options = () => {
    const store = ctx.ports.playbooks;
    return store
      ? { playbooks: { names: new Set(store.list().map((p) => p.name)), severity: 'warning' as const, where: `loaded from ${config.QUENCH_PLAYBOOK_DIR}` } }
      : {};
  };
  let lastWarnings = '';
  const warn = (problems: Problem[]) => {
    const warnings = problems.filter((p) => p.severity === 'warning').map(formatProblem);
    if (warnings.length > 0 && warnings.join('\n') !== lastWarnings)
      logger.warn({ dir: config.QUENCH_SLO_DIR, problems: warnings }, 'SLO definitions have warnings (quench validate lists them)');
    lastWarnings = warnings.join('\n');
  };
  const { slos, problems } = loadSlos([config.QUENCH_SLO_DIR], options());
  const errors = problems.filter((p) => p.severity === 'error');
  if (errors.length > 0) {
    throw new QuenchError(
      'validation_failed',
      `invalid SLO definitions in ${config.QUENCH_SLO_DIR}:\n${errors.map(formatProblem).join('\n')}`,
    );
  }
  warn(problems);
  const metrics = sloMetrics(ctx.metrics.registry);
  const client = config.PROMETHEUS_URL
    ? new PrometheusClient({ baseUrl: config.PROMETHEUS_URL, timeoutMs: config.QUENCH_SLO_TIMEOUT_SECONDS * 1000 })
    : undefined;
  const evaluator = new SloEvaluator({
    slos,
    sources: {
      synthetic: syntheticSource(ctx.clock.now()),
      ...(client ? { prometheus: prometheusSource(client) } : {}),
      forDataSource: dataSourceSources({ timeoutMs: config.QUENCH_SLO_TIMEOUT_SECONDS * 1000 }),
    },
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

  // Hot reload: a valid new set of files replaces the definitions (next cycle evaluates them);
  // an invalid one is logged with file:line:col once per distinct set of problems, and the
  // previous definitions stay. Every change is audited.
  let lastProblems = '';
  let reloading: Promise<void> | undefined;
  const reloadNow = async () => {
    const next = loadSlos([config.QUENCH_SLO_DIR], options());
    const bad = next.problems.filter((p) => p.severity === 'error');
    if (bad.length > 0) {
      const text = bad.map(formatProblem).join('\n');
      if (text !== lastProblems)
        logger.error({ dir: config.QUENCH_SLO_DIR, problems: bad.map(formatProblem) }, 'SLO definitions not reloaded: fix the problems (quench validate); the previous ones stay in force');
      lastProblems = text;
      return;
    }
    lastProblems = '';
    warn(next.problems);
    await running; // a cycle in flight finishes on the definitions it started with
    const changes = evaluator.replace(next.slos);
    if (changes.added.length + changes.removed.length + changes.changed.length === 0) return;
    logger.info({ ...changes }, 'SLO definitions reloaded');
    await ctx.audit.append({
      actor: { type: 'system', id: 'slo-evaluator' },
      action: 'slo.definitions.reloaded',
      subject: { type: 'slo-definitions', id: config.QUENCH_SLO_DIR },
      data: { ...changes },
    });
    guarded(); // changed objectives and new SLOs show at once, not at the next tick
  };
  const reload = () =>
    (reloading ??= reloadNow()
      .catch((err) => logger.error({ err }, 'SLO reload failed'))
      .finally(() => {
        reloading = undefined;
      }));
  let reloadTimer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;

  return {
    name: 'slo-evaluator',
    /** Re-reads QUENCH_SLO_DIR now (the watcher and the timer call it; so can a test). */
    reload,
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
      const withoutSource = slos.filter((s) => s.sli.source === 'prometheus' && !s.dataSource).length;
      if (!client && withoutSource > 0)
        logger.warn({ slos: withoutSource }, 'PROMETHEUS_URL is unset: Prometheus-based SLOs report "no data source"');
      logger.info({ slos: slos.length, cron: config.QUENCH_SLO_EVAL_CRON }, 'SLO evaluator started');
      guarded(); // the first cycle right away: status is live from the first request
      ctx.ports.leader.onChange((leads) => {
        if (leads) guarded(); // a replica taking over evaluates at once, not at the next tick
      });
      task = cron.schedule(config.QUENCH_SLO_EVAL_CRON, guarded, { name: 'slo-evaluator', noOverlap: true });
      reloadTimer = setInterval(() => void reload(), SLO_RELOAD_INTERVAL_MS);
      reloadTimer.unref();
      try {
        // Editors write in bursts (temp file, rename): one reload shortly after the last notice.
        watcher = watch(config.QUENCH_SLO_DIR, { recursive: true }, () => {
          clearTimeout(debounce);
          debounce = setTimeout(() => void reload(), 250);
          debounce.unref();
        });
        watcher.on('error', (err) => logger.warn({ err }, 'watching QUENCH_SLO_DIR failed; SLO files still reload every 30 s'));
      } catch (err) {
        logger.warn({ err }, 'cannot watch QUENCH_SLO_DIR; SLO files reload every 30 s');
      }
    },
    async stop() {
      clearInterval(reloadTimer);
      clearTimeout(debounce);
      watcher?.close();
      await reloading;
      await task?.destroy();
      await running;
    },
  };
}
