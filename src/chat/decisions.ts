import { isQuenchError } from '../core/errors.js';
import type { Actor, Decision, DecisionRecord } from '../engine/model.js';
import type { HumanStepNotifier } from '../engine/notifier.js';
import type { Assign } from '../playbooks/core/model.js';
import { judgeDecision, type Person, samePerson, type StepForDecision, type Verdict } from './core/decision-policy.js';
import { humanRules } from '../engine/core/human-rules.js';
import { type ChatDeps, engineOf, engineRows } from './deps.js';
import { refreshHeader, refreshStepMessage, threadNote } from './messages.js';
import { auditPerson, findStep, offerQueued } from './offer.js';
import { loadOffer, queuedInGroup, updateOffer } from './store.js';

/**
 * Deciding human steps. `authorise` is the gate every path goes through (Slack here; the CLI
 * and /v1 through the engine's `decide`, which calls it via the chat port): only assignees,
 * never the run's starter approving, distinct approvers for four-eyes. Refusals are audited
 * with who tried.
 */
export async function authorise(
  deps: Pick<ChatDeps, 'db'>,
  stepId: string,
  actor: Person,
  decision: 'approve' | 'reject',
  reason?: string,
): Promise<Verdict> {
  const offer = await loadOffer(deps.db.orm, stepId);
  const { step, run } = await engineRows(deps, stepId);
  if (!step || !run) return { kind: 'refused', code: 'no_such_step', message: `No step ${stepId}; list the waiting steps with 'quench runs show RUN_ID'.` };
  const record = (step.decision ?? { approvals: [] }) as DecisionRecord;
  const status: StepForDecision['status'] =
    step.status === 'waiting' ? 'waiting' : step.status === 'cancelled' ? 'cancelled' : record.final ? 'decided' : 'timed_out';
  // Without an offer yet (the notification was lost, or PagerDuty/Slack failed while resolving
  // people), the playbook's `assign` still binds: named users are known statically; an on-call
  // or group assignment refuses everyone until the offer exists (reconcile.ts retries it).
  // An escalation is never open (escalation.ts): until its offer names people, nobody decides it.
  const escalation = step.spec.role === 'escalation';
  let assignees = offer?.assignees ?? [];
  let open = offer ? offer.assign === null && !escalation : false;
  if (!offer) {
    const def = step.spec.role === 'step' ? findStep(run.definition.steps, step.stepKey) : undefined;
    const assign = def?.kind === 'human' ? def.assign : undefined;
    if (escalation && status === 'waiting') {
      return {
        kind: 'refused',
        code: 'not_assignee',
        message: 'Quench has not yet resolved who may decide this escalation; try again shortly.',
      };
    }
    if (!assign) open = !escalation;
    else if (assign.users) assignees = assign.users.map((u) => ({ aliases: [u], display: u }));
    else if (status === 'waiting') {
      return {
        kind: 'refused',
        code: 'not_assignee',
        message: 'Quench has not yet resolved who may decide this step (on-call or group lookup pending); try again shortly.',
      };
    }
  }
  const input: StepForDecision = {
    status,
    // From the definition, not the stored view: the same rules the engine enforces.
    requiredApprovals: humanRules(run.definition, step.stepKey, step.spec).requiredApprovals,
    assignees,
    open,
    runStartedBy: run.startedBy,
    runStarterAliases: run.startedByAliases,
    approvals: record.approvals.map((a) => ({ by: approverOf(offer?.assignees ?? [], a), at: a.at })),
    ...(record.final
      ? {
          decidedBy: personFor(offer?.assignees ?? [], record.final.by),
          outcome: record.final.outcome === 'reject' ? 'rejected' : 'approved',
        }
      : {}),
  } as StepForDecision;
  return judgeDecision(input, actor, decision, reason);
}

function personFor(assignees: Person[], id: string): Person {
  return assignees.find((a) => a.aliases.some((x) => x.toLowerCase() === id.toLowerCase())) ?? { aliases: [id], display: id };
}

/** An earlier approver with every name they were known by when they approved (an open step has no assignees to ask). */
function approverOf(assignees: Person[], approval: DecisionRecord['approvals'][number]): Person {
  const known = personFor(assignees, approval.by);
  return { ...known, aliases: [...new Set([...known.aliases, ...(approval.aliases ?? [])])] };
}

export type SlackDecisionResult = { ok: true; verdict: Verdict } | { ok: false; message: string };

// Decisions on one step are handled one at a time in this process, so a double click cannot
// pass the gate twice before the first reaches the engine (the engine's row lock covers replicas).
const chains = new Map<string, Promise<unknown>>();
function serialised<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = chains.get(key) ?? Promise.resolve();
  const next = previous.then(fn, fn);
  chains.set(
    key,
    next.catch(() => {}),
  );
  return next;
}

/** What a Slack user answered: a button, a chosen option, or the text of an input modal. */
export type SlackAnswer = { decision: 'approve' } | { decision: 'reject'; reason: string } | { decision: 'choose' | 'input'; value: string };

/** A decision made in Slack by `actor`; refusals come back as a message for an ephemeral reply. */
export function decideAs(deps: ChatDeps, stepId: string, actor: Person, answer: SlackAnswer): Promise<SlackDecisionResult> {
  return serialised(stepId, async () => {
    const decision = answer.decision === 'reject' ? 'reject' : 'approve';
    const reason = answer.decision === 'reject' ? answer.reason : undefined;
    const verdict = await authorise(deps, stepId, actor, decision, reason);
    const offer = await loadOffer(deps.db.orm, stepId);
    const who = { ...auditPerson(actor), decision: answer.decision, ...('value' in answer ? { value: answer.value } : {}) };
    if (verdict.kind === 'refused') {
      deps.metrics.refusals.inc({ code: verdict.code });
      await deps.audit.append({
        actor: { type: 'user', id: actor.slackId ?? actor.aliases[0] ?? 'unknown' },
        action: 'human_step.refused',
        subject: { type: 'step', id: stepId },
        data: { ...who, code: verdict.code, reason: verdict.message, via: 'slack' },
        correlationId: offer?.correlationId ?? null,
      });
      return { ok: false, message: verdict.message };
    }
    const engine = await engineOf(deps);
    const d: Decision =
      answer.decision === 'reject'
        ? { outcome: 'reject', reason: answer.reason }
        : answer.decision === 'approve'
          ? { outcome: 'approve' }
          : { outcome: answer.decision, value: answer.value };
    try {
      await engine.decide(stepId, d, actorOf(actor), { via: 'slack', aliases: actor.aliases });
    } catch (err) {
      // The engine refused (already decided by a concurrent request on another replica, or its own rules).
      if (isQuenchError(err) && ['conflict', 'forbidden', 'not_found', 'bad_request'].includes(err.code)) {
        deps.metrics.refusals.inc({ code: typeof err.details?.refusal === 'string' ? err.details.refusal : err.code });
        return { ok: false, message: err.message };
      }
      throw err;
    }
    await deps.audit.append({
      actor: actorOf(actor),
      action: verdict.kind === 'approval_recorded' ? 'human_step.approval_recorded' : 'human_step.decided',
      subject: { type: 'step', id: stepId },
      data: {
        ...who,
        via: 'slack',
        ...(reason ? { reason } : {}),
        ...(verdict.kind === 'approval_recorded' ? { remaining: verdict.remaining } : {}),
      },
      correlationId: offer?.correlationId ?? null,
    });
    return { ok: true, verdict };
  });
}

/** The engine's `by` for a person: their Slack id when they have one. */
export function actorOf(p: Person): Actor {
  return { type: 'user', id: p.slackId ?? p.aliases[0] ?? 'unknown' };
}

/**
 * An assignee hands the step to someone else. Someone who has already approved it may not: they
 * would be choosing the second approver of their own four-eyes step.
 */
export async function reassign(deps: ChatDeps, stepId: string, by: Person, to: Person): Promise<SlackDecisionResult> {
  return serialised(stepId, async () => {
    let verdict = await authorise(deps, stepId, by, 'reject', 'reassign');
    if (verdict.kind !== 'refused' && (await hasApproved(deps, stepId, by))) {
      verdict = {
        kind: 'refused',
        code: 'already_approved',
        message: 'You have approved this step, so you may not choose who approves it next; another assignee may reassign it.',
      };
    }
    if (verdict.kind === 'refused') {
      deps.metrics.refusals.inc({ code: verdict.code });
      await deps.audit.append({
        actor: actorOf(by),
        action: 'human_step.refused',
        subject: { type: 'step', id: stepId },
        data: { ...auditPerson(by), attempted: 'reassign', code: verdict.code, via: 'slack' },
      });
      return { ok: false, message: verdict.message };
    }
    const offer = await loadOffer(deps.db.orm, stepId);
    if (!offer) return { ok: false, message: 'This step is not tracked by Quench chat.' };
    await updateOffer(deps.db.orm, stepId, { assignees: [to] });
    deps.metrics.reassignments.inc({ playbook: offer.playbook, reason: 'manual' });
    await deps.audit.append({
      actor: actorOf(by),
      action: 'human_step.reassigned',
      subject: { type: 'step', id: stepId },
      data: { by: auditPerson(by), from: offer.assignees.map(auditPerson), to: [auditPerson(to)] },
      correlationId: offer.correlationId,
    });
    await refreshStepMessage(deps, stepId);
    return { ok: true, verdict };
  });
}

async function hasApproved(deps: ChatDeps, stepId: string, person: Person): Promise<boolean> {
  const [{ step }, offer] = await Promise.all([engineRows(deps, stepId), loadOffer(deps.db.orm, stepId)]);
  const record = (step?.decision ?? { approvals: [] }) as DecisionRecord;
  return record.approvals.some((a) => samePerson(approverOf(offer?.assignees ?? [], a), person));
}

/** The engine's notification that a step closed (or collected one of several approvals). */
export async function onClosed(deps: ChatDeps, info: Parameters<HumanStepNotifier['closed']>[0]): Promise<void> {
  const offer = await loadOffer(deps.db.orm, info.stepId);
  if (!offer) return;
  const stillOpen = info.outcome === 'approval_recorded' || info.outcome === 'approvals_reset';
  if (!stillOpen && (offer.status === 'offered' || offer.status === 'queued')) {
    const now = deps.clock.now();
    await updateOffer(deps.db.orm, info.stepId, { status: info.outcome, decidedAt: now, timerAt: null });
    if (info.outcome === 'decided' && offer.offeredAt) {
      const outcome = info.decision?.outcome ?? 'decided';
      deps.metrics.decisionTime.observe({ playbook: offer.playbook, outcome }, (now.getTime() - offer.offeredAt.getTime()) / 1000);
    }
    // An escalated step already counted as a breach when its SLA ran out.
    if (info.outcome === 'timed_out' && !offer.escalatedAt) deps.metrics.slaBreaches.inc({ playbook: offer.playbook });
  }
  await refreshStepMessage(deps, info.stepId);
  await refreshHeader(deps, info.runId);
  if (info.outcome === 'approvals_reset')
    await threadNote(deps, offer, `the approvers of *${(offer.view as { stepKey?: string }).stepKey ?? 'a step'}* gave different answers; both were discarded: decide it again.`, offer.assignees);
  if (offer.groupId && !stillOpen) await offerNextInGroup(deps, offer.groupId, offer.assign as Assign);
}

/** Capacity freed in a group: the highest-priority queued step goes to whoever has room. */
async function offerNextInGroup(deps: ChatDeps, groupId: string, assign: Assign): Promise<void> {
  if (!assign?.slack) return;
  for (const queued of await queuedInGroup(deps.db, groupId)) {
    if (!(await offerQueued(deps, groupId, assign.slack, queued.stepId))) return;
    deps.metrics.queueTime.observe({ playbook: queued.playbook }, (deps.clock.now().getTime() - queued.queuedAt.getTime()) / 1000);
    await refreshStepMessage(deps, queued.stepId);
  }
}
