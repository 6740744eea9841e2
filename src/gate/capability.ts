import { PagerDutyEvents } from '../pagerduty/events.js';
import type { Capability } from '../service.js';
import { gateActions } from './actions.js';
import { createAnnouncer } from './announce.js';
import { DeployGate } from './gate.js';
import { addGateRoutes } from './routes.js';
import { GateMemory } from './state.js';

/** How often every replica re-reads the gate state besides NOTIFY (PGlite has no other replica). */
const POLL_MS = 2_000;
/** How often the leader ends expired freezes and overrides. */
const SWEEP_MS = 5_000;

/**
 * The deploy gate: routes, `ports.gate`, the deploy.freeze/unfreeze actions, and, on the leader,
 * the error budget policy after each SLO evaluation plus the expiry sweep. Installed before the
 * SLO capability so its observer sees the first evaluation.
 */
export const gateCapability: Capability = (ctx) => {
  const { config, logger } = ctx;
  const log = logger.child({ component: 'gate' });
  const memory = new GateMemory(ctx.db, log);
  let known: ReadonlySet<string> | undefined;
  const pagerDuty = config.PAGERDUTY_ROUTING_KEY
    ? new PagerDutyEvents({ routingKey: config.PAGERDUTY_ROUTING_KEY, baseUrl: config.PAGERDUTY_EVENTS_URL })
    : undefined;
  const gate = new DeployGate({
    db: ctx.db,
    audit: ctx.audit,
    clock: ctx.clock,
    logger: log,
    memory,
    announcer: createAnnouncer({ chat: () => ctx.ports.chat, pagerDuty, logger: log }),
    knownServices: () => {
      // SLO files are loaded once at start: computed once the evaluator runs, not per request.
      if (!known && ctx.ports.slo.running) known = new Set(ctx.ports.slo.list().map((s) => s.service));
      return known ?? new Set(ctx.ports.slo.list().map((s) => s.service));
    },
    fallbackChannel: config.QUENCH_SLACK_CHANNEL,
  });
  ctx.ports.gate = gate;
  ctx.ports.sloStored = () => memory.statuses;
  ctx.ports.sloObservers.push(async (statuses) => {
    if (ctx.ports.leader.isLeader()) await gate.observe(statuses);
  });
  addGateRoutes(ctx.router, () => gate, ctx.auth);
  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> | undefined;

  return {
    name: 'deploy-gate',
    async start() {
      await memory.start(POLL_MS);
      const registry = ctx.ports.engine.actions;
      for (const action of gateActions()) if (!registry.get(action.name)) registry.register(action);
      timer = setInterval(() => {
        if (sweeping || !ctx.ports.leader.isLeader()) return;
        sweeping = gate
          .sweep()
          .catch((err) => log.error({ err }, 'deploy gate expiry sweep failed'))
          .finally(() => {
            sweeping = undefined;
          });
      }, SWEEP_MS);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      await sweeping;
      await memory.stop();
    },
  };
};
