import { z } from 'zod';
import { QuenchError } from '../core/errors.js';
import { runStates } from '../engine/core/states.js';
import type { Router } from '../http/router.js';
import { readJson } from '../http/body.js';
import { jsonBodyOf } from '../http/json-body.js';
import type { ServiceContext } from '../service.js';
import { type ArmedScenario, runControlOf } from './control.js';
import { type StartedRun, startPersonRun } from './start.js';

/** `POST /v1/runs` body: a playbook by name, its inputs (typed JSON), and for a drill the steps to fail. */
export const startRunBodySchema = z.strictObject({
  playbook: z.string().trim().min(1, 'name the playbook to run'),
  inputs: z.record(z.string(), z.unknown()).optional(),
  drill: z
    .strictObject({
      fail: z.array(z.string().min(1)).max(50).optional(),
      /** A DrillScenario (QUENCH_DRILL_DIR): the run starts when the scenario's burn alert fires (202). */
      scenario: z.string().trim().min(1).max(200).optional(),
    })
    .optional(),
});

export const cancelRunBodySchema = z.strictObject({
  reason: z.string().trim().min(1, 'a cancellation needs a reason').max(2000),
});

/** `POST /v1/runs` 201: the run started. */
export const startedRunSchema = jsonBodyOf<StartedRun>()(
  z.object({
    runId: z.string(),
    correlationId: z.string(),
    state: z.enum(runStates).describe('As the start left it; GET /v1/runs/{runId} follows it'),
    playbook: z.string(),
    drill: z.boolean().describe('A DRILL run'),
    startedBy: z.string().describe("`user:<name>`: the token's user, who may not approve its human steps"),
  }),
);

/** `POST /v1/runs` 202: a scenario drill armed; the run starts when its burn alert fires (at once: `runId`). */
const armedScenarioSchema = jsonBodyOf<ArmedScenario>()(
  z.object({
    armed: z.literal(true),
    id: z.string().describe('The armed scenario'),
    message: z.string().describe('What to tell the person (Slack mrkdwn)'),
    runId: z.string().optional().describe('The DRILL run, when the burn alert fired at once'),
  }),
);
export const armedDrillSchema = armedScenarioSchema.extend({
  drill: z.literal(true),
  playbook: z.string(),
  scenario: z.string(),
  startedBy: z.string().describe("`user:<name>`: the token's user"),
});

/** `POST /v1/runs/:id/cancel` 200. */
export const cancelledRunSchema = z.object({
  runId: z.string(),
  state: z.enum(runStates).describe('As the cancel left it: `cancelled`, or `compensating` under `onCancel: compensate`'),
  drill: z.boolean(),
  by: z.string().describe("The token's user"),
  reason: z.string(),
});

/**
 * `POST /v1/runs` and `POST /v1/runs/:id/cancel`. The person is the identity behind the
 * bearer token (a write token), never a field of the body; the engine audits both with it.
 */
export function addRunControlRoutes(router: Router, ctx: ServiceContext): void {
  router.add({
    method: 'POST',
    pattern: '/v1/runs',
    auth: 'write',
    doc: {
      summary: "Start a run (or a DRILL run) of a playbook as the token's user",
      description: 'Inputs are checked against the playbook. `drill.fail` injects failures (`STEP`, `STEP:once`); `drill.scenario` arms a DrillScenario (202): the run starts when its burn alert fires. See docs/drills.md.',
      body: startRunBodySchema,
      responses: {
        201: { description: 'The run started', body: startedRunSchema },
        202: { description: 'A scenario drill armed: the run starts when its burn alert fires', body: armedDrillSchema },
      },
    },
    handler: async ({ req, user }) => {
      if (!user) throw new QuenchError('unauthorized', 'starting a run needs an API token that names a user (QUENCH_API_TOKENS)');
      const b = await readJson(req, startRunBodySchema, 64 * 1024);
      if (b.drill?.scenario !== undefined) {
        const start = runControlOf(ctx).startScenario;
        if (!start) throw new QuenchError('conflict', 'scenario drills need the drills capability, which is not running in this service');
        const armed = await start({ playbook: b.playbook, scenario: b.drill.scenario, fail: b.drill.fail ?? [], inputs: b.inputs ?? {}, user, via: 'api' });
        const body: z.input<typeof armedDrillSchema> = { ...armed, drill: true, playbook: b.playbook, scenario: b.drill.scenario, startedBy: `user:${user}` };
        return { status: 202, body };
      }
      const run = await startPersonRun(ctx.ports.engine, ctx.ports.playbooks, {
        playbook: b.playbook,
        ...(b.inputs ? { inputs: b.inputs } : {}),
        user,
        via: 'api',
        ...(b.drill ? { drill: b.drill } : {}),
      });
      return { status: 201, body: run };
    },
  });
  router.add({
    method: 'POST',
    pattern: '/v1/runs/:id/cancel',
    auth: 'write',
    doc: {
      summary: 'Cancel a run: open steps cancelled, a step in flight fenced (its late result discarded), then the completed steps undone when the playbook says onCancel: compensate (state `compensating`; 409 while a run compensates under it); audited with who and why',
      body: cancelRunBodySchema,
      responses: { 200: { description: 'The run as the cancel left it', body: cancelledRunSchema } },
    },
    handler: async ({ params, req, user }) => {
      if (!user) throw new QuenchError('unauthorized', 'cancelling a run needs an API token that names a user (QUENCH_API_TOKENS)');
      const b = await readJson(req, cancelRunBodySchema, 16 * 1024);
      // `state`: as the cancel left it (`compensating` under `onCancel: compensate`), not as a worker since moved it.
      const { state } = await ctx.ports.engine.cancel(params.id!, { type: 'user', id: user }, b.reason);
      const run = await ctx.ports.engine.getRun(params.id!);
      const body: z.input<typeof cancelledRunSchema> = { runId: params.id!, state, drill: run ? run.drill !== null : false, by: user, reason: b.reason };
      return { status: 200, body };
    },
  });
}
