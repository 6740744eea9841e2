import { z } from 'zod';
import { durationMs, durationSchema } from '../playbooks/core/model.js';
import { StepError } from '../engine/core/step-error.js';
import { defineAction } from './action.js';

/**
 * A short pause inside an action step (a settle time after a restart, say). It holds the
 * step's lease while it sleeps, so it is capped at 5 minutes: longer waits belong in a `wait`
 * step, which is a durable timer and holds nothing.
 */
const MAX_MS = 5 * 60_000;

export const waitAction = defineAction({
  name: 'wait',
  description: 'pause for a short duration (at most 5m; use a wait step for longer, durable waits)',
  changesState: false,
  params: z.strictObject({
    duration: durationSchema.refine((d) => durationMs(d) <= MAX_MS, 'the wait action pauses at most 5m; use a wait step for longer waits'),
  }),
  async run(params, ctx) {
    const ms = durationMs(params.duration);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      ctx.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          reject(new StepError('aborted', `wait aborted: ${String(ctx.signal.reason ?? 'cancelled')}`, { retryable: true }));
        },
        { once: true },
      );
    });
    return { waitedMs: ms };
  },
});
