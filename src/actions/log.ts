import { z } from 'zod';
import { defineAction } from './action.js';

/** Writes a structured log line: a harmless step for notes in the timeline and for tests. */
export const logAction = defineAction({
  name: 'log',
  description: 'write a message to the service log and the step output',
  changesState: false,
  params: z.strictObject({
    message: z.string(),
    level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
    fields: z.record(z.string(), z.unknown()).default({}),
  }),
  async run(params, ctx) {
    // The step's logger already carries runId, step and attempt.
    ctx.logger[params.level]({ ...params.fields, correlationId: ctx.correlationId }, params.message);
    return { message: params.message };
  },
});
