import type { Capability } from '../service.js';
import { addRunControlRoutes } from './routes.js';

/** Runs started and cancelled by people over `/v1` (the CLI and Slack reach the same functions). */
export const runsCapability: Capability = (ctx) => {
  addRunControlRoutes(ctx.router, ctx);
  return undefined;
};
