import type { HumanStepView } from '../engine/notifier.js';
import type { Assign, HumanSla, Step } from '../playbooks/core/model.js';
import { durationMs } from '../playbooks/core/model.js';
import { humanRules } from '../engine/core/human-rules.js';
import { runContext } from '../engine/context.js';
import { stepsOf } from '../engine/sql/load.js';
import { applyApprovalPolicy } from './core/auto-approval.js';
import { renderPolicyInputs } from './core/policy-inputs.js';
import { pickMember } from './core/assignment.js';
import type { Person } from './core/decision-policy.js';
import { nextSlaEvent } from './core/sla.js';
import { type ChatDeps, engineOf, engineRows, POLICY_ACTOR, type StoredView } from './deps.js';
import { escalationAssignees } from './escalation.js';
import { ensureThread, postStepMessage } from './messages.js';
import { cursorOf, groupLoad, insertOffer, loadOffer, type SlaSpec, saveCursor, updateOffer } from './store.js';

/**
 * A human step started waiting: apply the confidence × impact policy, pick the assignees
 * (PagerDuty on-call, a Slack group under its WIP limit, or named users), record the offer with
 * its SLA timer, then post the message. The offer row is written before any Slack call and
 * without a transaction held across one; a repeated notification finds the row and stops.
 */
export async function offerStep(deps: ChatDeps, notified: HumanStepView): Promise<void> {
  let view = notified;
  if (await loadOffer(deps.db.orm, view.stepId)) return;
  const { run } = await engineRows(deps, view.stepId);
  if (!run) throw new Error(`run ${view.runId} of human step ${view.stepId} not found`);
  const definition = findStep(run.definition.steps, view.stepKey);
  const human = definition?.kind === 'human' ? definition : undefined;
  const trigger = (run.trigger ?? {}) as { severity?: string };

  if (view.role !== 'step') {
    // An escalation is as hard to approve as the step that failed (engine/core/human-rules.ts).
    const rules = humanRules(run.definition, view.stepKey, (await engineRows(deps, view.stepId)).step?.spec ?? { role: 'step' });
    view = { ...view, risk: rules.risk, requiredApprovals: rules.requiredApprovals };
  }
  let policy: string | undefined;
  if (view.role === 'step' && view.type === 'approve') {
    // confidence and impact rendered now, against the outputs of the steps before; a template
    // that fails or gives a value out of range means: ask a human.
    const inputs = human ? renderPolicyInputs(human, await runContext(deps.db.orm, run, await stepsOf(deps.db.orm, run.id), process.env)) : {};
    const verdict = applyApprovalPolicy(deps.policy, {
      stepId: view.stepId,
      risk: view.risk,
      confidence: inputs.confidence,
      impact: inputs.impact,
      ...(inputs.error ? { error: inputs.error } : {}),
    });
    policy = verdict.reason;
    deps.metrics.autoApprovals.inc({ outcome: verdict.outcome });
    if (verdict.outcome !== 'human') {
      const sampled = verdict.outcome === 'auto' && verdict.sampled;
      const row = baseRow(deps, view, run.playbook, trigger.severity, 'decided', [], null, undefined, sampled);
      // The policy's reason stays with the row: a reviewer of a sampled auto-approval reads it (reviews.ts).
      await insertOffer(deps.db, { ...row, view: { ...row.view, policy: verdict.reason } });
      await deps.audit.append({
        actor: POLICY_ACTOR,
        action: verdict.outcome === 'auto' ? 'human_step.auto_approved' : 'human_step.blocked',
        subject: { type: 'step', id: view.stepId },
        data: { run: view.runId, reason: verdict.reason, sampledForReview: sampled },
        correlationId: view.correlationId,
      });
      const engine = await engineOf(deps);
      await engine.decide(
        view.stepId,
        verdict.outcome === 'auto' ? { outcome: 'approve', comment: verdict.reason } : { outcome: 'reject', reason: verdict.reason },
        POLICY_ACTOR,
      );
      return;
    }
  }

  let assign = (view.assign ?? human?.assign) as Assign | undefined;
  const sla = view.role === 'step' ? slaOf((view.sla ?? human?.sla) as HumanSla | undefined) : null;
  let assignees: Person[] = [];
  let groupId: string | null = null;
  let status: 'offered' | 'queued' = 'offered';
  let level = assign?.pagerduty?.level ?? 1;
  let escalation: { of: string; source: string } | undefined;
  if (view.role === 'escalation') {
    const of = view.stepKey.replace(/\/escalate$/, '');
    const e = await escalationAssignees(deps, run, of);
    ({ assign, assignees, level } = e);
    escalation = { of, source: e.source };
  } else if (assign?.pagerduty) assignees = await deps.people.oncall(assign.pagerduty, assign.pagerduty.level ?? 1);
  else if (assign?.users) assignees = await Promise.all(assign.users.map((u) => deps.people.named(u)));
  else if (assign?.slack) {
    groupId = assign.slack.userGroup;
    const picked = await pickFromGroup(deps, assign.slack);
    if (picked) assignees = [picked];
    else status = 'queued';
  }
  const now = deps.clock.now();
  const inserted = await insertOffer(deps.db, {
    ...baseRow(deps, view, run.playbook, trigger.severity, status, assignees, sla, assign),
    groupId,
    level,
    offeredAt: status === 'offered' ? now : null,
    timerAt:
      status === 'offered' && sla
        ? nextSlaEvent({ offeredAt: now, withinMs: sla.withinMs, remindAt: sla.remindAt, reminded: false, escalated: false })!.at
        : null,
  });
  if (!inserted) return;
  if (status === 'offered') deps.metrics.queueTime.observe({ playbook: run.playbook }, 0);
  await deps.audit.append({
    actor: { type: 'system', id: 'chat' },
    action: status === 'queued' ? 'human_step.queued' : 'human_step.assigned',
    subject: { type: 'step', id: view.stepId },
    data: {
      run: view.runId,
      assignees: assignees.map(auditPerson),
      ...(groupId ? { group: groupId } : {}),
      level,
      requiredApprovals: view.requiredApprovals,
      ...(escalation ? { escalationOf: escalation.of, escalatedTo: escalation.source } : {}),
      ...(policy ? { policy } : {}),
    },
    correlationId: view.correlationId,
  });
  await ensureThread(deps, view.runId);
  await postStepMessage(deps, view.stepId);
}

/** Offers the group's highest-priority queued step to whoever has room now. */
export async function offerQueued(deps: ChatDeps, groupId: string, assign: NonNullable<Assign['slack']>, stepId: string): Promise<boolean> {
  const picked = await pickFromGroup(deps, assign);
  if (!picked) return false;
  const now = deps.clock.now();
  const offer = await loadOffer(deps.db.orm, stepId);
  const sla = offer?.sla as SlaSpec | null | undefined;
  const timerAt = sla
    ? nextSlaEvent({ offeredAt: now, withinMs: sla.withinMs, remindAt: sla.remindAt, reminded: false, escalated: false })!.at
    : null;
  await updateOffer(deps.db.orm, stepId, { status: 'offered', assignees: [picked], offeredAt: now, timerAt });
  await deps.audit.append({
    actor: { type: 'system', id: 'chat' },
    action: 'human_step.assigned',
    subject: { type: 'step', id: stepId },
    data: { assignees: [auditPerson(picked)], group: groupId, fromQueue: true },
  });
  return true;
}

async function pickFromGroup(deps: ChatDeps, slack: NonNullable<Assign['slack']>): Promise<Person | undefined> {
  const members = await deps.chat.groupMembers(slack.userGroup);
  const load = await groupLoad(deps.db, slack.userGroup);
  const pick = pickMember({
    members,
    strategy: slack.strategy ?? 'round-robin',
    wipLimit: slack.wipLimit ?? 3,
    load,
    cursor: await cursorOf(deps.db, slack.userGroup),
  });
  if (!pick) return undefined;
  await saveCursor(deps.db, slack.userGroup, pick.cursor);
  return deps.people.named(pick.member);
}

function baseRow(
  deps: ChatDeps,
  view: HumanStepView,
  playbook: string,
  severity: string | undefined,
  status: string,
  assignees: Person[],
  sla: SlaSpec | null,
  assign: Assign | undefined,
  flagged = false,
) {
  const stored: StoredView = { ...view, timeoutAt: view.timeoutAt ? view.timeoutAt.toISOString() : null };
  return {
    stepId: view.stepId,
    runId: view.runId,
    correlationId: view.correlationId,
    view: stored,
    playbook,
    severity: severity ?? null,
    status,
    assign: assign ?? null,
    assignees,
    sla,
    queuedAt: deps.clock.now(),
    decidedAt: status === 'decided' ? deps.clock.now() : null,
    flaggedForReview: flagged,
  };
}

export function slaOf(sla: HumanSla | undefined): SlaSpec | null {
  if (!sla) return null;
  return { withinMs: durationMs(sla.within), remindAt: sla.remindAt ?? 0.5, escalateTo: sla.escalateTo, reassign: sla.reassign ?? false };
}

export function auditPerson(p: Person): Record<string, string> {
  return { ...(p.slackId ? { slackUserId: p.slackId } : {}), name: p.display ?? p.aliases[0] ?? '', aliases: p.aliases.join(',') };
}

export function findStep(steps: Step[], id: string): Step | undefined {
  for (const step of steps) {
    if (step.id === id) return step;
    if (step.kind === 'parallel') {
      for (const branch of step.branches) {
        const found = findStep(branch.steps, id);
        if (found) return found;
      }
    }
  }
  return undefined;
}
