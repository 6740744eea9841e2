import { and, eq } from 'drizzle-orm';
import type { Assign } from '../playbooks/core/model.js';
import type { Person } from './core/decision-policy.js';
import { samePerson } from './core/decision-policy.js';
import { dueSlaEvents, formatWaiting, nextSlaEvent } from './core/sla.js';
import type { ChatDeps } from './deps.js';
import { refreshHeader, refreshStepMessage, threadNote } from './messages.js';
import { auditPerson } from './offer.js';
import { chatHumanSteps } from './schema.js';
import { dueTimers, loadOffer, type OfferRow, type SlaSpec, updateOffer } from './store.js';

/**
 * SLA timers: each offered step's next reminder or escalation is a `timer_at` in the database,
 * so it fires after a restart. A timer is claimed by clearing it conditionally (only the replica
 * whose UPDATE matched fires it), then the reminder or escalation is posted, then the next timer
 * is set. Time comes from the injected clock; tests move a ManualClock and call `fireDueTimers`.
 */
export async function fireDueTimers(deps: ChatDeps): Promise<number> {
  const now = deps.clock.now();
  let fired = 0;
  for (const stepId of await dueTimers(deps.db, now)) {
    const offer = await loadOffer(deps.db.orm, stepId);
    if (!offer?.timerAt) continue;
    const claimed = await deps.db.orm
      .update(chatHumanSteps)
      .set({ timerAt: null })
      .where(and(eq(chatHumanSteps.stepId, stepId), eq(chatHumanSteps.timerAt, offer.timerAt)))
      .returning({ stepId: chatHumanSteps.stepId });
    if (claimed.length === 0 || offer.status !== 'offered' || !offer.sla || !offer.offeredAt) continue;
    const sla = offer.sla as SlaSpec;
    const clock = {
      offeredAt: offer.offeredAt,
      withinMs: sla.withinMs,
      remindAt: sla.remindAt,
      reminded: offer.remindedAt !== null,
      escalated: offer.escalatedAt !== null,
    };
    for (const kind of dueSlaEvents(clock, now)) {
      if (kind === 'remind') {
        await remind(deps, offer, sla);
        clock.reminded = true;
      } else {
        await escalate(deps, offer, sla);
        clock.escalated = true;
      }
      fired++;
    }
    const next = nextSlaEvent(clock);
    await updateOffer(deps.db.orm, stepId, {
      ...(clock.reminded && !offer.remindedAt ? { remindedAt: now } : {}),
      ...(clock.escalated && !offer.escalatedAt ? { escalatedAt: now } : {}),
      timerAt: next?.at ?? null,
    });
    await refreshStepMessage(deps, stepId);
    await refreshHeader(deps, offer.runId);
  }
  return fired;
}

async function remind(deps: ChatDeps, offer: OfferRow, sla: SlaSpec): Promise<void> {
  const waited = deps.clock.now().getTime() - offer.offeredAt!.getTime();
  deps.metrics.reminders.inc({ playbook: offer.playbook });
  await threadNote(
    deps,
    offer,
    `reminder: *${offer.view ? (offer.view as { stepKey: string }).stepKey : 'a step'}* has waited ${formatWaiting(waited)} of its ${formatWaiting(sla.withinMs)} SLA.`,
    offer.assignees,
  );
  await deps.audit.append({
    actor: { type: 'system', id: 'chat:sla' },
    action: 'human_step.reminded',
    subject: { type: 'step', id: offer.stepId },
    data: { assignees: offer.assignees.map(auditPerson), waitedMs: waited, withinMs: sla.withinMs },
    correlationId: offer.correlationId,
  });
}

async function escalate(deps: ChatDeps, offer: OfferRow, sla: SlaSpec): Promise<void> {
  deps.metrics.slaBreaches.inc({ playbook: offer.playbook });
  const assign = offer.assign as Assign | null;
  let added: Person[] = [];
  let level = offer.level;
  if (sla.escalateTo === 'next-level' && assign?.pagerduty?.escalationPolicy) {
    const levels = await deps.people.levels(assign.pagerduty.escalationPolicy);
    if (level < levels) {
      level += 1;
      added = await deps.people.oncall(assign.pagerduty, level);
    }
  } else if (sla.escalateTo && typeof sla.escalateTo === 'object') {
    const to = sla.escalateTo as Assign;
    if (to.users) added = await Promise.all(to.users.map((u) => deps.people.named(u)));
    else if (to.pagerduty) added = await deps.people.oncall(to.pagerduty, to.pagerduty.level ?? 1);
    else if (to.slack) added = await Promise.all((await deps.chat.groupMembers(to.slack.userGroup)).map((u) => deps.people.named(u)));
  }
  const fresh = added.filter((p) => !offer.assignees.some((a) => samePerson(a, p)));
  const assignees = sla.reassign && added.length > 0 ? added : [...offer.assignees, ...fresh];
  await updateOffer(deps.db.orm, offer.stepId, { assignees, level });
  deps.metrics.escalations.inc({ playbook: offer.playbook });
  if (sla.reassign && added.length > 0) deps.metrics.reassignments.inc({ playbook: offer.playbook, reason: 'sla' });
  const name = (offer.view as { stepKey: string }).stepKey;
  await threadNote(
    deps,
    offer,
    `escalated: *${name}* is past its ${formatWaiting(sla.withinMs)} SLA${fresh.length === 0 ? ' and has nobody further to escalate to' : ''}.`,
    fresh.length > 0 ? fresh : offer.assignees,
  );
  await deps.audit.append({
    actor: { type: 'system', id: 'chat:sla' },
    action: 'human_step.escalated',
    subject: { type: 'step', id: offer.stepId },
    data: { from: offer.assignees.map(auditPerson), added: fresh.map(auditPerson), reassigned: sla.reassign && added.length > 0, level },
    correlationId: offer.correlationId,
  });
}
