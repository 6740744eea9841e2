import { z } from 'zod';
import { durationSchema } from './duration.js';
import { humanFields } from './human-schema.js';

/**
 * Steps: the five kinds (`action`, `human`, `decide`, `wait`, `parallel`) share the fields in
 * `commonFields`. `kind` is required so a reader (and zod's error messages) know at once which
 * fields apply. Step ids are CEL identifiers because expressions read `steps.<id>.output`.
 */

export const STEP_ID_PATTERN = /^[A-Za-z][A-Za-z0-9_]*$/;
/** Flow target that finishes the run successfully; reserved, so no step may be called `end`. */
export const END = 'end';

export const stepIdSchema = z
  .string()
  .regex(STEP_ID_PATTERN, 'step ids are letters, digits and _ starting with a letter (expressions read steps.<id>.output)')
  .refine((id) => id !== END, `'${END}' is reserved: it is the flow target that ends the run`);

/** A step id to jump to, or `end`. */
export const flowTargetSchema = z
  .string()
  .min(1)
  .meta({ description: `A step id, or '${END}' to finish the run.` });

/** A CEL expression (see docs/playbooks.md#expressions); compile-checked at validation. */
export const expressionSchema = z.string().min(1).meta({ description: 'A CEL expression over trigger, inputs, steps, env and run.' });

/** Parameters: any YAML value; strings may contain `${{ expr }}` templates. */
export const paramsSchema = z.record(z.string(), z.unknown());

export const actionCallSchema = z.strictObject({
  action: z.string().min(1),
  params: paramsSchema.default({}),
});
export type ActionCall = z.infer<typeof actionCallSchema>;

export const retrySchema = z.strictObject({
  /** Attempts in total, the first included. */
  maxAttempts: z.int().min(1).max(100),
  /** Exponential back-off with full jitter: delay = random(0, min(maxDelay, initialDelay · 2^(attempt-1))). */
  backoff: z.enum(['exponential', 'fixed']).default('exponential'),
  initialDelay: durationSchema.default('1s'),
  /** The same as the engine's default policy (src/engine/core/retry.ts), so adding `retry` changes only what it says. */
  maxDelay: durationSchema.default('1m'),
  /**
   * Error codes that are retried: exact (`http_503`, `timeout`), a class (`http_5xx`) or a prefix
   * (`ECONN*`). Only errors the action marks transient are ever retried; absent, all of those are.
   */
  retryOn: z.array(z.string().min(1)).min(1).optional(),
});
export type RetryPolicy = z.infer<typeof retrySchema>;

const commonFields = {
  id: stepIdSchema,
  /** Shown in timelines and Slack; defaults to the id. */
  name: z.string().min(1).optional(),
  description: z.string().optional(),
  /** Runs the step only when true; otherwise it is skipped and the flow continues. */
  when: expressionSchema.optional(),
  /** Per attempt for actions; whole-step for human and wait steps. */
  timeout: durationSchema.optional(),
  retry: retrySchema.optional(),
  /** Undo for saga compensation; defaults to the action's declared compensation. */
  compensate: actionCallSchema.optional(),
  /** What to do when the step has failed for good (after retries): `onFailure`. */
  onFailure: z.enum(['compensate', 'escalate', 'continue']).default('compensate'),
  risk: z.enum(['low', 'medium', 'high']).default('low'),
  /** Whether a drill may run it for real; non-safe steps are simulated in drills. */
  drillSafe: z.boolean().default(false),
  /** The step that follows; default: the next one in the list (or the end of the branch). */
  next: flowTargetSchema.optional(),
};

/** Runs when a step has failed for good, before `onFailure` applies: one action, or a list of steps. */
const fallbackBase = z.strictObject({
  action: z.string().min(1).optional(),
  params: paramsSchema.optional(),
  get steps() {
    return z.array(stepSchema).min(1).optional();
  },
});

export const actionStepSchema = z.strictObject({
  ...commonFields,
  kind: z.literal('action'),
  action: z.string().min(1),
  params: paramsSchema.default({}),
  get fallback() {
    return fallbackBase.optional();
  },
});

export const humanStepSchema = z.strictObject({
  ...commonFields,
  kind: z.literal('human'),
  ...humanFields,
  get fallback() {
    return fallbackBase.optional();
  },
});

export const decideStepSchema = z.strictObject({
  ...commonFields,
  kind: z.literal('decide'),
  /** The first branch whose condition holds decides the next step. */
  branches: z.array(z.strictObject({ when: expressionSchema, next: flowTargetSchema, name: z.string().optional() })).min(1),
  /** Where to go when no branch holds; default: the next step in order. */
  default: flowTargetSchema.optional(),
  get fallback() {
    return fallbackBase.optional();
  },
});

export const waitStepSchema = z.strictObject({
  ...commonFields,
  kind: z.literal('wait'),
  /** Wait this long. */
  duration: durationSchema.optional(),
  /** Or wait for an event attached to the run, such as `alert.resolved`. */
  until: z
    .strictObject({
      event: z.string().min(1),
      /** Extra condition on the event, as CEL over the context plus `event`. */
      match: expressionSchema.optional(),
      /** Whether a timeout (the step's `timeout`) fails the step or continues the flow. */
      onTimeout: z.enum(['fail', 'continue']).default('continue'),
    })
    .optional(),
  get fallback() {
    return fallbackBase.optional();
  },
});

const parallelBranchSchema = z.strictObject({
  name: z.string().min(1).optional(),
  get steps() {
    return z.array(stepSchema).min(1);
  },
});

export const parallelStepSchema = z.strictObject({
  ...commonFields,
  kind: z.literal('parallel'),
  /** Each branch runs its steps in order; the step succeeds when every branch has, and fails when one fails. */
  get branches(): z.ZodArray<typeof parallelBranchSchema> {
    return z.array(parallelBranchSchema).min(1);
  },
  get fallback() {
    return fallbackBase.optional();
  },
});

export const stepSchema = z
  .discriminatedUnion('kind', [actionStepSchema, humanStepSchema, decideStepSchema, waitStepSchema, parallelStepSchema])
  // The id names the recursive definition in the generated JSON Schema (`#/$defs/PlaybookStep`).
  .meta({ id: 'PlaybookStep', title: 'Playbook step', description: 'One step: kind action, human, decide, wait or parallel.' });

export type Step = z.infer<typeof stepSchema>;
export type ActionStep = z.infer<typeof actionStepSchema>;
export type HumanStep = z.infer<typeof humanStepSchema>;
export type DecideStep = z.infer<typeof decideStepSchema>;
export type WaitStep = z.infer<typeof waitStepSchema>;
export type ParallelStep = z.infer<typeof parallelStepSchema>;
export type StepKind = Step['kind'];
export type Fallback = z.infer<typeof fallbackBase>;
