import { z } from 'zod';
import { durationSchema } from './duration.js';
import { stepSchema } from './steps-schema.js';
import { triggerMatcherSchema } from './triggers-schema.js';

/**
 * The playbook file format (`apiVersion: quench/v1`, `kind: Playbook`): the one zod schema;
 * every type is inferred from it and `quench schema playbook` derives the JSON Schema.
 *
 * Invariant: a parsed playbook is plain JSON and re-parses to itself (durations stay strings,
 * defaults are idempotent), so the snapshot a run persists can be parsed again by any later
 * version and its content hash is stable.
 *
 * Changes (keep them additive; the engine, ingest and chat read these types):
 * - v1 (initial): metadata, triggers, sla, inputs, env, steps (action, human, decide, wait, parallel).
 * - `retry.maxDelay` defaults to 1m (was 5m), the engine's default policy's value.
 * - `stepSchema` carries the JSON Schema id `PlaybookStep` (for `quench schema`).
 * - Validation: expressions may read only declared `inputs` and listed `env` names
 *   (`CompiledExpression.refs`, added beside `stepRefs`).
 * - `onCancel: stop | compensate` (optional; absent = stop, the earlier behaviour).
 */

export const API_VERSION = 'quench/v1';
export const KIND = 'Playbook';

const nameSchema = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'expected a DNS-style name: lower-case letters, digits and -, at most 63 characters');

const inputNameSchema = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'input names are identifiers: expressions read inputs.<name>');

export const inputSchema = z.strictObject({
  type: z.enum(['string', 'number', 'integer', 'boolean', 'duration', 'list', 'map']),
  description: z.string().optional(),
  /** Must have `type`; used when a run is started without this input. */
  default: z.unknown().optional(),
  /** Without a default, a run cannot start without this input. */
  required: z.boolean().default(false),
  /** Allowed values (for string, number and integer inputs). */
  enum: z
    .array(z.union([z.string(), z.number()]))
    .min(1)
    .optional(),
});
export type PlaybookInput = z.infer<typeof inputSchema>;

/** Environment variables a playbook may read as `env.NAME`; secrets are refused by the validator. */
const envNameSchema = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'expected an environment variable name (upper case)');

export const playbookSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(KIND),
  metadata: z.strictObject({
    name: nameSchema,
    /** Team or person responsible; the default channel and escalation for its runs. */
    owner: z.string().min(1),
    description: z.string().optional(),
    labels: z.record(z.string(), z.string()).default({}),
  }),
  triggers: z.array(triggerMatcherSchema).default([]),
  /** Clocks for the whole run, from its start. */
  sla: z
    .strictObject({
      acknowledge: durationSchema.optional(),
      resolve: durationSchema.optional(),
    })
    .optional(),
  inputs: z.record(inputNameSchema, inputSchema).default({}),
  env: z.array(envNameSchema).default([]),
  /**
   * What a person's cancel does (docs/playbooks.md): `stop` (absent = stop) ends the run as it
   * is; `compensate` fences the steps in flight and undoes the completed ones, as a failure does.
   * Optional without a default so the snapshots of playbooks that do not set it keep their hash.
   */
  onCancel: z.enum(['stop', 'compensate']).optional(),
  steps: z.array(stepSchema).min(1),
});

export type Playbook = z.infer<typeof playbookSchema>;
/** What the file may contain before defaults are applied. */
export type PlaybookSource = z.input<typeof playbookSchema>;
