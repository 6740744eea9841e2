import { QuenchError } from '../core/errors.js';
import type { Capability } from '../service.js';
import { guardDrillActions } from './guard.js';
import { scoreFinishedDrills, storedScorecard } from './scorer.js';

/**
 * Drills in `quench serve`: a sweeper that scores finished drill runs (every replica may run
 * it; the scorecard's primary key makes each drill scored and posted once), and
 * `GET /v1/runs/:id/scorecard`.
 */
export const drillsCapability: Capability = (ctx) => {
  ctx.router.add({
    method: 'GET',
    pattern: '/v1/runs/:id/scorecard',
    auth: 'read',
    handler: async ({ params }) => {
      const card = await storedScorecard(ctx, params.id!);
      if (!card) throw new QuenchError('not_found', `no drill scorecard for run ${params.id} (not a drill, or not finished yet)`);
      return { status: 200, body: card };
    },
  });
  // Frequent enough that a scorecard follows the drill's end within seconds, sparse enough to cost nothing.
  const everyMs = Math.min(5_000, Math.max(200, ctx.config.QUENCH_ENGINE_POLL_MS * 4));
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  const tick = () => {
    running ??= scoreFinishedDrills(ctx)
      .catch((err: unknown) => ctx.logger.warn({ err }, 'drill scoring failed; retried on the next tick'))
      .finally(() => {
        running = undefined;
      });
  };
  return {
    name: 'drills',
    async start() {
      // Last to start: the gate and chat have registered deploy.* and pagerduty.* by now.
      ctx.logger.info({ guarded: guardDrillActions(ctx.ports.engine.actions) }, 'drills: these actions are simulated in every drill');
      timer = setInterval(tick, everyMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
};
