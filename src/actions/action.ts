import type { z } from 'zod';
import type { Config } from '../config/load.js';
import type { Clock } from '../core/clock.js';
import type { ActionSpec } from '../playbooks/core/model.js';
import type { Logger } from '../telemetry/logger.js';

/**
 * An action: what a playbook `action:` step calls. One file per action (see ./http-request.ts);
 * `defineAction` keeps the parameter type inferred from its zod schema. To add a custom
 * action, write a file exporting `defineAction({...})` and register it (built-ins in
 * ./builtins.ts; other capabilities call `ports.engine.actions.register` at start).
 */
export interface ActionContext {
  runId: string;
  stepKey: string;
  attempt: number;
  /**
   * `<run>:<step>`: one key per step execution, the same for every attempt, worker takeover and
   * dead-letter re-drive of the step, so the target can deduplicate an attempt that timed out
   * here but landed there. `attempt` says which attempt this is.
   */
  idempotencyKey: string;
  correlationId: string;
  /** Aborted on the attempt timeout, the step deadline, a lost lease, or shutdown. */
  signal: AbortSignal;
  clock: Clock;
  logger: Logger;
  config: Config;
  /** The service's ports, read at call time (an action may need a capability that starts later). */
  ports: Record<string, unknown>;
  drill: boolean;
}

export interface ActionDefinition<P = unknown> extends ActionSpec {
  params: z.ZodType<P>;
  /**
   * The circuit-breaker target: calls to one target share a breaker (an HTTP host, a command).
   * Absent: the action name.
   */
  target?(params: P): string;
  run(params: P, ctx: ActionContext): Promise<unknown>;
}

export function defineAction<S extends z.ZodType>(
  definition: ActionDefinition<z.output<S>> & { params: S },
): ActionDefinition<z.output<S>> {
  return definition;
}
