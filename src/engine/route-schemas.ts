import { z } from 'zod';
import { isoTime, jsonBodyOf } from '../http/json-body.js';
import { triggerEventSchema } from '../triggers/event.js';
import { runStates, stepStatuses } from './core/states.js';
import type { DecisionRecord, DrillOptions } from './model.js';
import type { DeadLetter } from './sql/dlq.js';
import type { RunDetail, RunSummary } from './sql/queries.js';

/**
 * The answers of `GET /v1/runs`, `GET /v1/runs/:id`, `POST /v1/steps/:id/decision` (routes.ts)
 * and of `GET /v1/dlq`, `POST /v1/dlq/:id/retry` (dlq-routes.ts), as /openapi.json publishes
 * them. Each agrees with the type the handler returns
 * (`jsonBodyOf`), so neither can change without the other. Objects are open: an answer may gain
 * fields (docs/cli.md), never lose or retype one.
 */

const via = z.enum(['slack', 'api', 'cli']).describe('The path the decision came by');

/** A failure recorded on a run, step or attempt: a stable code and a message; more fields by code. */
const failure = z
  .looseObject({
    code: z.string().describe('Stable, matchable: `http_503`, `timeout`, `rejected`, `cancelled`, …'),
    message: z.string(),
  })
  .describe('What failed: `retryable`, `by`, `details` and other fields depend on the code');

const drillOptions = jsonBodyOf<DrillOptions>()(
  z.object({
    fail: z.array(z.string()).optional().describe('Steps that fail on purpose (`STEP`, `STEP:once`)'),
    scenario: z.string().optional().describe('The DrillScenario that started the run'),
    delays: z.record(z.string(), z.number()).optional().describe("A scenario's response delays: step key → ms"),
  }),
);

/** A run as `GET /v1/runs` lists it. */
export const runSummarySchema = jsonBodyOf<RunSummary>()(
  z.object({
    id: z.string(),
    playbook: z.string(),
    playbookHash: z.string().describe('Content hash of the playbook version the run is pinned to'),
    state: z.enum(runStates),
    correlationId: z.string().describe('Follows the trigger through the run, its steps and the audit trail'),
    drill: z.boolean().describe('A DRILL run'),
    startedBy: z.string().describe('`user:<name>` or `system:<component>`; nobody approves their own run'),
    createdAt: isoTime(),
    updatedAt: isoTime(),
    endedAt: isoTime().nullable(),
  }),
);

export const runListSchema = z.object({
  runs: z.array(runSummarySchema).describe('Newest first'),
  next: isoTime().nullable().describe('Pass as `before` for the next page; null when this page is empty'),
});

const decided = { by: z.string(), at: isoTime(), via: via.optional() };
const decisionRecordSchema = jsonBodyOf<DecisionRecord>()(
  z
    .object({
      approvals: z
        .array(
          z.object({
            by: z.string(),
            at: isoTime(),
            value: z.string().optional().describe('The value a four-eyes choice or input approved'),
            comment: z.string().optional(),
            via: via.optional(),
            aliases: z.array(z.string()).optional().describe("The approver's other names (Slack id, email)"),
          }),
        )
        .describe('Approvals so far (a `risk: high` step needs two distinct approvers)'),
      final: z
        .discriminatedUnion('outcome', [
          z.object({ outcome: z.literal('approve'), comment: z.string().optional(), ...decided }),
          z.object({ outcome: z.literal('reject'), reason: z.string(), ...decided }),
          z.object({ outcome: z.literal('choose'), value: z.string(), comment: z.string().optional(), ...decided }),
          z.object({ outcome: z.literal('input'), value: z.string(), ...decided }),
        ])
        .optional()
        .describe('The decision that completed the step'),
    })
    .describe("A human step's decision so far"),
);

const stepSchema = jsonBodyOf<RunDetail['steps'][number]>()(
  z.object({
    id: z.string().describe('The step id that `POST /v1/steps/{id}/decision` takes'),
    key: z.string().describe('The playbook step id, or a derived key (`<id>/fallback`, `<id>/compensate`, `<id>/escalate`, `<id>/manual`)'),
    kind: z.string().describe('action, human, decide, wait or parallel'),
    role: z.string().describe('step, fallback, compensation, escalation or manual'),
    status: z.enum(stepStatuses),
    attempts: z.array(
      z.object({
        attempt: z.number().int(),
        idempotencyKey: z.string().describe('The same on every attempt, takeover and re-drive of the step'),
        status: z.string().describe('running, succeeded, failed, retry_wait, cancelled, …'),
        worker: z.string(),
        takeovers: z.number().int().describe('How often another worker took the attempt over from one that died'),
        startedAt: isoTime(),
        endedAt: isoTime().nullable(),
        error: failure.nullable(),
      }),
    ),
    output: z.unknown().describe("The action's output (null until it succeeds)"),
    error: failure.nullable(),
    decision: decisionRecordSchema.nullable(),
    wakeAt: isoTime().nullable().describe("The step's timer: its retry, timeout or lease expiry"),
    createdAt: isoTime(),
    startedAt: isoTime().nullable(),
    endedAt: isoTime().nullable(),
  }),
);

/** The trigger as stored with the run: the event routing matched, its time as JSON writes it. */
const storedTrigger = triggerEventSchema.extend({
  labels: z.record(z.string(), z.string()),
  annotations: z.record(z.string(), z.string()),
  occurredAt: isoTime(),
  resolved: z.boolean(),
});

/** One run with its steps and their attempts, in timeline order. */
export const runDetailSchema = jsonBodyOf<RunDetail>()(
  runSummarySchema.extend({
    trigger: storedTrigger.nullable().describe('The event that started the run (source `manual` or `drill` for a person’s start)'),
    inputs: z.record(z.string(), z.unknown()).describe("The playbook's inputs, as checked at start"),
    startKey: z.string().nullable().describe('Idempotency key of the start (ingest passes its run handle)'),
    drill: drillOptions.nullable().describe('Null for a real run; for a DRILL run, its options'),
    startedByAliases: z.array(z.string()).nullable().describe("The starter's other names when a person started it from Slack"),
    error: failure.nullable().describe('Why the run failed or was cancelled'),
    steps: z.array(stepSchema),
  }),
);

/** `POST /v1/steps/:id/decision`: the step decided, or (four-eyes) an approval recorded that waits for another. */
export const decisionAnswerSchema = z.discriminatedUnion('status', [
  z.object({
    status: z.literal('decided'),
    stepId: z.string(),
    runId: z.string(),
    result: z.enum(['succeeded', 'failed']).describe('failed: rejected'),
    by: z.string().describe("The token's user"),
  }),
  z.object({
    status: z.literal('approval_recorded'),
    stepId: z.string(),
    runId: z.string(),
    approvals: z.number().int().describe('Distinct approvals so far'),
    required: z.number().int().describe('Approvals the step needs'),
    by: z.string().describe("The token's user"),
  }),
]);

/** A step that failed for good, as `GET /v1/dlq` lists it (sql/dlq.ts). */
const deadLetterSchema = jsonBodyOf<DeadLetter>()(
  z.object({
    id: z.string().describe('The id `POST /v1/dlq/{id}/retry` takes'),
    runId: z.string(),
    stepId: z.string(),
    stepKey: z.string().describe('The playbook step id, or a derived key (`<id>/compensate`, …)'),
    action: z.string().nullable().describe('The action the step ran; null for a step that runs none'),
    attempts: z.number().int().describe('Attempts made so far (a re-drive keeps counting)'),
    reason: z.string().describe('exhausted, non_retryable, step_deadline, timeout or result_unrecordable'),
    error: failure.describe('The last failure'),
    context: z.record(z.string(), z.unknown()).describe("What a person needs to re-drive it: the step's rendered parameters, its attempt, …; fields depend on the reason"),
    correlationId: z.string(),
    createdAt: isoTime(),
    retriedAt: isoTime().nullable().describe('When it was re-driven; null while open'),
    retriedBy: z.string().nullable().describe('Who re-drove it'),
  }),
);

export const deadLetterListSchema = z.object({
  deadLetters: z.array(deadLetterSchema).describe('Newest first; the re-driven ones too with all=true'),
});

/** `POST /v1/dlq/:id/retry`: the step is ready again and its run reopened. */
export const deadLetterRetriedSchema = z.object({
  id: z.string().describe('The dead letter'),
  runId: z.string(),
  stepId: z.string(),
  by: z.string().describe("The token's user (audited)"),
});
