import { stepsOf } from '../engine/sql/load.js';
import type { Assign, Playbook } from '../playbooks/core/model.js';
import type { Person } from './core/decision-policy.js';
import { samePerson } from './core/decision-policy.js';
import type { ChatDeps } from './deps.js';
import { findStep } from './offer.js';
import { loadOffer } from './store.js';

/**
 * Who decides an escalation (the human step the engine raises when a step with
 * `onFailure: escalate` failed for good: rejected, timed out, or an action that gave up).
 * Approving it lets the run go on past the failed step, so it is never open to anyone: it goes
 * to the failed step's `sla.escalateTo`, else the next level of its PagerDuty escalation
 * policy, joined to the failed step's assignees (or replacing them with `sla.reassign`), else
 * to those assignees alone, else to the playbook's `metadata.owner` (a Slack user group, or a
 * person). The engine keeps the failed step's risk, so four-eyes still needs two of them.
 */
export interface EscalationAssignment {
  assignees: Person[];
  /** What is recorded as the offer's assignment; never null, so the offer is never open. */
  assign: Assign;
  level: number;
  /** Where the assignees came from, for the audit trail. */
  source: 'escalateTo' | 'next-level' | 'assignees' | 'owner';
}

export async function escalationAssignees(
  deps: ChatDeps,
  run: { id: string; definition: Playbook },
  failedKey: string,
): Promise<EscalationAssignment> {
  const failed = findStep(run.definition.steps, failedKey);
  const human = failed?.kind === 'human' ? failed : undefined;
  const failedRow = (await stepsOf(deps.db.orm, run.id)).find((s) => s.stepKey === failedKey);
  const offer = failedRow ? await loadOffer(deps.db.orm, failedRow.id) : undefined;
  const original = offer?.assignees.length ? offer.assignees : human?.assign ? await resolve(deps, human.assign) : [];
  const originalAssign: Assign | undefined = (offer?.assign as Assign | null | undefined) ?? human?.assign;
  const escalateTo = human?.sla?.escalateTo;
  const join = (added: Person[]) =>
    human?.sla?.reassign ? added : [...original, ...added.filter((p) => !original.some((o) => samePerson(o, p)))];

  if (escalateTo && escalateTo !== 'next-level') {
    const added = await resolve(deps, escalateTo);
    if (added.length > 0) return { assignees: join(added), assign: escalateTo, level: 1, source: 'escalateTo' };
  }
  const pd = originalAssign?.pagerduty;
  if (escalateTo === 'next-level' && pd?.escalationPolicy) {
    const level = (offer?.level ?? pd.level ?? 1) + 1;
    if (level <= (await deps.people.levels(pd.escalationPolicy))) {
      const added = await deps.people.oncall(pd, level);
      if (added.length > 0) return { assignees: join(added), assign: originalAssign!, level, source: 'next-level' };
    }
  }
  if (original.length > 0) return { assignees: original, assign: originalAssign ?? usersOf(original), level: offer?.level ?? 1, source: 'assignees' };
  return { ...(await ownerOf(deps, run.definition.metadata.owner)), level: 1, source: 'owner' };
}

async function resolve(deps: ChatDeps, assign: Assign): Promise<Person[]> {
  if (assign.users) return Promise.all(assign.users.map((u) => deps.people.named(u)));
  if (assign.pagerduty) return deps.people.oncall(assign.pagerduty, assign.pagerduty.level ?? 1);
  if (assign.slack) return Promise.all((await deps.chat.groupMembers(assign.slack.userGroup)).map((u) => deps.people.named(u)));
  return [];
}

/** The playbook owner: the members of a Slack user group of that id, or the person so named. */
async function ownerOf(deps: ChatDeps, owner: string): Promise<{ assignees: Person[]; assign: Assign }> {
  const members = await deps.chat.groupMembers(owner).catch(() => [] as string[]);
  if (members.length > 0) return { assignees: await Promise.all(members.map((m) => deps.people.named(m))), assign: { slack: { userGroup: owner, strategy: 'round-robin', wipLimit: 3 } } };
  return { assignees: [await deps.people.named(owner)], assign: { users: [owner] } };
}

function usersOf(people: Person[]): Assign {
  return { users: people.map((p) => p.aliases[0] ?? p.display ?? 'unknown') };
}
