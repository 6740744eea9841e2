import { createHash } from 'node:crypto';
import { z } from 'zod';
import { type ActionDefinition, defineAction } from '../actions/action.js';
import { isQuenchError } from '../core/errors.js';
import { NonRetriableError, RetryAfterError } from '../engine/core/step-error.js';
import { hasTemplate } from '../playbooks/core/templates.js';
import { untilFormatProblem } from './core/until.js';
import type { DeployGate } from './gate.js';

/**
 * `deploy.freeze` / `deploy.unfreeze`: a playbook freezes a service while it remediates and
 * lifts the freeze when done; `deploy.unfreeze` is `deploy.freeze`'s compensation, so a failed
 * or cancelled run never leaves a freeze behind (the freeze's own expiry is the last resort).
 */
function gateOf(ports: Record<string, unknown>): DeployGate {
  const gate = ports.gate as DeployGate | undefined;
  if (!gate) throw new RetryAfterError('gate_not_running', 'the deploy gate has not started yet', 5_000);
  return gate;
}

const refused = (err: unknown) => {
  if (isQuenchError(err, 'not_found') || isQuenchError(err, 'validation_failed')) throw new NonRetriableError(`gate_${err.code}`, err.message);
  throw err;
};

export function gateActions(): ActionDefinition[] {
  const freeze = defineAction({
    name: 'deploy.freeze',
    description: 'freeze deploys of services while the run remediates (lifted by deploy.unfreeze, its compensation)',
    changesState: true,
    compensation: { action: 'deploy.unfreeze' },
    params: z.strictObject({
      services: z.array(z.string().min(1)).min(1),
      reason: z.string().min(1),
      /** A duration (`2h`) or RFC 3339 time: the freeze ends then even if the run never lifts it. */
      until: z
        .string()
        .min(1)
        .default('4h')
        .superRefine((text, ctx) => {
          // A templated value is only known once rendered; the rendered parameters are parsed again.
          if (hasTemplate(text)) return;
          const problem = untilFormatProblem(text);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }),
    }),
    target: () => 'deploy-gate',
    async run(p, ctx) {
      // One id per run step: a retried attempt finds the freeze it already made.
      const id = `frz_${createHash('sha256').update(`${ctx.runId}:${ctx.stepKey}`).digest('hex').slice(0, 8)}`;
      const f = await gateOf(ctx.ports)
        .freeze({ services: p.services, reason: p.reason, until: p.until, by: `run:${ctx.runId}`, runId: ctx.runId, id })
        .catch(refused);
      return { freezeId: f.id, services: f.services, until: f.until };
    },
  });
  const unfreeze = defineAction({
    name: 'deploy.unfreeze',
    description: 'lift the deploy freezes this run made (or one freeze by id)',
    changesState: true,
    params: z.strictObject({ id: z.string().min(1).optional() }),
    target: () => 'deploy-gate',
    async run(p, ctx) {
      const gate = gateOf(ctx.ports);
      if (p.id) {
        const f = await gate.unfreeze(p.id, `run:${ctx.runId}`, 'the playbook run lifted it').catch((err) => {
          if (isQuenchError(err, 'conflict')) return undefined; // already lifted: the goal holds
          return refused(err);
        });
        return { lifted: f ? [f.id] : [] };
      }
      return { lifted: (await gate.unfreezeRun(ctx.runId)).map((f) => f.id) };
    },
  });
  return [freeze, unfreeze];
}
