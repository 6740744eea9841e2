import { and, eq } from 'drizzle-orm';
import { QuenchError } from '../../core/errors.js';
import { answerRefusal } from '../../playbooks/core/patterns.js';
import { humanRules } from '../core/human-rules.js';
import type { Actor, Decision, DecisionContext, DecisionRecord, StepRow } from '../model.js';
import type { Runtime } from '../runtime.js';
import { engineSteps } from '../schema.js';
import { lockRun, readStep } from './load.js';
import { applyStepResult, type StepResult } from './transition.js';

/**
 * Decides a waiting human step (CLI, `/v1`, Slack). Rules that hold whatever the channel:
 * nobody decides a step of a run they started; a `risk: high` step needs two distinct
 * approvers (four-eyes), and the first approval is recorded without completing the step;
 * a choice must be one of the options and an input must match its pattern. Under four-eyes
 * a choice or an input is an approval of a value: the second approver must give the same
 * value, otherwise the mismatch is refused, the approvals so far are discarded and the step
 * asks again (`mismatch`). An escalation keeps the failed step's four-eyes (core/human-rules.ts).
 * Every audit entry records the path the decision came by (`context.via`).
 */
export type DecideOutcome =
  | { status: 'decided'; step: StepRow; result: 'succeeded' | 'failed' }
  | { status: 'approval_recorded'; step: StepRow; approvals: number; required: number }
  | { status: 'mismatch'; step: StepRow; message: string; values: string[] };

export async function decideStep(
  rt: Runtime,
  stepId: string,
  decision: Decision,
  actor: Actor,
  context: DecisionContext = {},
): Promise<DecideOutcome & { runId: string; correlationId: string; cancelledHumanSteps?: string[] }> {
  const via = context.via ? { via: context.via } : {};
  const hint = await readStep(rt.db.orm, stepId);
  if (!hint) throw new QuenchError('not_found', `no step with id ${stepId}; list waiting steps with 'quench runs show RUN_ID'`);
  return rt.db.orm.transaction(async (tx) => {
    const now = rt.clock.now();
    const run = await lockRun(tx, hint.runId);
    const [step] = (await tx
      .select()
      .from(engineSteps)
      .where(and(eq(engineSteps.id, stepId)))
      .for('update')) as StepRow[];
    if (!run || !step) throw new QuenchError('not_found', `no step with id ${stepId}`);
    if (step.kind !== 'human')
      throw new QuenchError('conflict', `step ${step.stepKey} is a ${step.kind} step; only human steps take decisions`);
    if (step.status !== 'waiting') throw new QuenchError('conflict', `step ${step.stepKey} is ${step.status}, not waiting for a decision`);
    // The starter may stop their own run (reject) but never approve it: the same rule as the chat
    // policy (decision-policy.ts), so Slack, /v1 and the CLI agree. Names compare case-insensitively
    // because QUENCH_API_TOKENS refuses names that differ only in case.
    const names = namesOf(actor, context);
    if (decision.outcome !== 'reject' && actor.type === 'user' && starterNames(run).some((name) => names.has(name))) {
      throw new QuenchError('forbidden', `${actor.id} started run ${run.id} and may not approve its steps; ask another person`);
    }
    const rules = humanRules(run.definition, step.stepKey, step.spec);
    const { human, requiredApprovals: required } = rules;
    checkShape(step.stepKey, rules.type, decision, human);
    const record: DecisionRecord = (step.decision as DecisionRecord | null) ?? { approvals: [] };
    const by = actor.id;
    const at = now.toISOString();

    if (decision.outcome !== 'reject') {
      if (record.approvals.some((a) => [a.by, ...(a.aliases ?? [])].some((name) => names.has(name.toLowerCase()))))
        throw new QuenchError('conflict', `${by} already approved step ${step.stepKey}; it needs a second, different approver`);
      const value = decision.outcome === 'choose' || decision.outcome === 'input' ? decision.value : undefined;
      const differing = value === undefined ? [] : record.approvals.filter((a) => a.value !== value);
      if (differing.length > 0) {
        const values = [...differing.map((a) => a.value ?? ''), value!];
        const message =
          `${by} answered ${JSON.stringify(value)} but ${differing.map((a) => `${a.by} answered ${JSON.stringify(a.value)}`).join(', ')}: ` +
          `step ${step.stepKey} needs ${required} approvers to give the same value, so both answers were discarded and it asks again`;
        await tx.update(engineSteps).set({ decision: { approvals: [] } }).where(eq(engineSteps.id, step.id));
        await rt.audit.append(
          {
            actor,
            action: 'step.approvals_mismatch',
            subject: { type: 'step', id: step.id },
            data: {
              run: run.id,
              step: step.stepKey,
              code: 'value_mismatch',
              answers: [...differing.map((a) => ({ by: a.by, value: a.value })), { by, value }],
              discarded: record.approvals.map((a) => a.by),
              ...via,
            },
            correlationId: run.correlationId,
          },
          tx,
        );
        return { status: 'mismatch' as const, step, message, values, runId: run.id, correlationId: run.correlationId };
      }
      const aliases = [...names].filter((name) => name !== by.toLowerCase());
      record.approvals.push({
        by,
        at,
        ...(aliases.length > 0 ? { aliases } : {}),
        ...(value !== undefined ? { value } : {}),
        ...('comment' in decision && decision.comment ? { comment: decision.comment } : {}),
        ...via,
      });
      if (record.approvals.length < required) {
        await tx.update(engineSteps).set({ decision: record }).where(eq(engineSteps.id, step.id));
        await rt.audit.append(
          {
            actor,
            action: 'step.approval_recorded',
            subject: { type: 'step', id: step.id },
            data: {
              run: run.id,
              step: step.stepKey,
              approvals: record.approvals.length,
              required,
              ...(value !== undefined ? { value } : {}),
              ...via,
            },
            correlationId: run.correlationId,
          },
          tx,
        );
        return {
          status: 'approval_recorded' as const,
          step,
          approvals: record.approvals.length,
          required,
          runId: run.id,
          correlationId: run.correlationId,
        };
      }
    }
    record.final = { ...decision, by, at, ...via };
    await tx.update(engineSteps).set({ decision: record }).where(eq(engineSteps.id, step.id));
    await rt.audit.append(
      {
        actor,
        action: 'step.decided',
        subject: { type: 'step', id: step.id },
        data: { run: run.id, step: step.stepKey, decision: record.final, approvers: record.approvals.map((a) => a.by), ...via },
        correlationId: run.correlationId,
      },
      tx,
    );
    const result: StepResult =
      decision.outcome === 'reject'
        ? { status: 'failed', error: { code: 'rejected', message: `rejected by ${by}: ${decision.reason}`, retryable: false } }
        : {
            status: 'succeeded',
            output: {
              decision: decision.outcome,
              ...(decision.outcome === 'choose' || decision.outcome === 'input' ? { value: decision.value } : {}),
              by: record.approvals.map((a) => a.by),
              at,
            },
          };
    const report = await applyStepResult(tx, { audit: rt.audit, catalog: rt.actions, now }, run, step, result, actor);
    return {
      status: 'decided' as const,
      step,
      result: result.status as 'succeeded' | 'failed',
      runId: run.id,
      correlationId: run.correlationId,
      cancelledHumanSteps: report.cancelledHumanSteps,
    };
  });
}

/**
 * The deciding person's names, lower-cased: the actor's id and the aliases the service resolved
 * (Slack id, email). A starter or an earlier approver matching any of them is the same person.
 */
function namesOf(actor: Actor, context: DecisionContext): Set<string> {
  return new Set([actor.id, ...(actor.type === 'user' ? (context.aliases ?? []) : [])].map((name) => name.toLowerCase()));
}

/** Every name of a run's starting person, lower-cased: none when a component started it. */
function starterNames(run: { startedBy: string; startedByAliases?: string[] | null }): string[] {
  const id = /^user:(.+)$/i.exec(run.startedBy)?.[1];
  return id === undefined ? [] : [id, ...(run.startedByAliases ?? [])].map((name) => name.toLowerCase());
}

function checkShape(
  key: string,
  type: 'approve' | 'choice' | 'input',
  d: Decision,
  human: { options?: Array<{ value: string }>; input?: { pattern?: string } } | undefined,
): void {
  if (d.outcome === 'reject') {
    if (!d.reason?.trim()) throw new QuenchError('bad_request', 'a rejection needs a reason');
    return;
  }
  const expected = { approve: 'approve', choice: 'choose', input: 'input' }[type];
  if (d.outcome !== expected)
    throw new QuenchError(
      'bad_request',
      `step ${key} asks for ${type === 'approve' ? 'approve or reject' : `${expected} (or reject)`}, not ${d.outcome}`,
    );
  if (d.outcome === 'choose' && human?.options && !human.options.some((o) => o.value === d.value)) {
    throw new QuenchError(
      'bad_request',
      `'${d.value}' is not an option of step ${key}; options: ${human.options.map((o) => o.value).join(', ')}`,
    );
  }
  // RE2, bounded input: the answer is a stranger's text and this runs on the request path.
  const refusal = d.outcome === 'input' && human?.input?.pattern ? answerRefusal(human.input.pattern, d.value) : undefined;
  if (refusal) throw new QuenchError('bad_request', `${refusal} (step ${key})`);
}
