import { execAction } from './exec.js';
import { httpRequestAction } from './http-request.js';
import { logAction } from './log.js';
import { ActionRegistry } from './registry.js';
import { sloCheckAction } from './slo-check.js';
import { waitAction } from './wait.js';

/**
 * A registry holding the built-in actions. Capabilities add theirs (PagerDuty, Slack, deploy
 * gate) through `ports.engine.actions.register(...)` when they start.
 */
export function builtinActions(): ActionRegistry {
  return new ActionRegistry()
    .register(httpRequestAction)
    .register(execAction)
    .register(logAction)
    .register(waitAction)
    .register(sloCheckAction);
}
