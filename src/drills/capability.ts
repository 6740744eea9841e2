import { QuenchError } from '../core/errors.js';
import { pagerDutyActions } from '../pagerduty/actions.js';
import { PagerDutyEvents } from '../pagerduty/events.js';
import { registerScenarioStarter } from '../runs/control.js';
import type { Capability } from '../service.js';
import { guardDrillActions } from './guard.js';
import { ScenarioDrills } from './scenarios.js';
import { scoreFinishedDrills, storedScorecard } from './scorer.js';
import { scorecardSchema } from './scorecard-schema.js';

/** Tests drive scenario evaluations without waiting for the timer. */
const internals = new WeakMap<object, ScenarioDrills>();
export const scenarioDrillsOf = (ctx: object): ScenarioDrills | undefined => internals.get(ctx);

/**
 * Drills in `quench serve`: a sweeper that scores finished drill runs (every replica may run
 * it; the scorecard's primary key makes each drill scored and posted once), armed scenario
 * drills evaluated on the same tick (scenarios.ts), the drill guard over deploy.* and
 * pagerduty.* (guard.ts), and `GET /v1/runs/:id/scorecard`.
 */
export const drillsCapability: Capability = (ctx) => {
  // Frequent enough that a scorecard follows the drill's end within seconds, sparse enough to cost nothing.
  const everyMs = Math.min(5_000, Math.max(200, ctx.config.QUENCH_ENGINE_POLL_MS * 4));
  // A replica that missed three ticks is taken to be gone: its armed scenarios move to another.
  const scenarios = new ScenarioDrills(ctx, everyMs * 3);
  internals.set(ctx, scenarios);
  registerScenarioStarter(ctx, (start) => scenarios.start(start));
  // PagerDuty Events calls of drills go to the drill routing key when one is set (guard.ts).
  const drillKey = ctx.config.QUENCH_PAGERDUTY_DRILL_ROUTING_KEY;
  const drillTargets = drillKey
    ? pagerDutyActions({ events: new PagerDutyEvents({ routingKey: drillKey, baseUrl: ctx.config.PAGERDUTY_EVENTS_URL }), directory: undefined, fromEmail: undefined }).filter(
        (a) => a.name !== 'pagerduty.note',
      )
    : [];
  ctx.router.add({
    method: 'GET',
    pattern: '/v1/runs/:id/scorecard',
    auth: 'read',
    doc: { summary: 'The scorecard of a finished drill run', responses: { 200: { description: 'The scorecard', body: scorecardSchema }, 404: { description: 'Not a drill, or not finished' } } },
    handler: async ({ params }) => {
      const card = await storedScorecard(ctx, params.id!);
      if (!card) throw new QuenchError('not_found', `no drill scorecard for run ${params.id} (not a drill, or not finished yet)`);
      return { status: 200, body: card };
    },
  });
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  const tick = () => {
    running ??= Promise.all([scoreFinishedDrills(ctx), scenarios.tick()])
      .catch((err: unknown) => ctx.logger.warn({ err }, 'drill scoring failed; retried on the next tick'))
      .finally(() => {
        running = undefined;
      });
  };
  return {
    name: 'drills',
    async start() {
      // Last to start: the gate and chat have registered deploy.* and pagerduty.* by now.
      const guarded = guardDrillActions(ctx.ports.engine.actions, drillTargets);
      ctx.logger.info({ guarded, pagerDutyDrillKey: drillTargets.length > 0 }, 'drills: these actions never run for real in a drill');
      timer = setInterval(tick, everyMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await running;
      await scenarios.stop().catch((err: unknown) => ctx.logger.warn({ err }, 'armed drill scenarios not handed back; another replica adopts them when their lease runs out'));
    },
  };
};
