import { samePerson, type Person } from '../../chat/core/decision-policy.js';
import { OVERRIDE_APPROVALS, type Actor, type Override } from './model.js';

/**
 * Four-eyes on overrides: two distinct people, neither of them the requester, approve before an
 * override lets anything through. People are compared by aliases (chat's samePerson), so one
 * person acting once in Slack (`slack:<id>`, email) and once by token counts once.
 * Returns the new approver lists, or why the approval is refused.
 */
export type ApprovalResult =
  | { ok: true; approvers: string[]; approverAliases: string[][]; complete: boolean }
  | { ok: false; code: 'forbidden' | 'conflict'; message: string };

const person = (name: string, aliases: readonly string[] | undefined): Person => ({ aliases: [name, ...(aliases ?? [])] });

export function approve(o: Override, approver: Actor, nowMs: number): ApprovalResult {
  if (Date.parse(o.until) <= nowMs) return { ok: false, code: 'conflict', message: `override ${o.id} expired at ${o.until}` };
  const me = person(approver.name, approver.aliases);
  if (samePerson(person(o.requestedBy, o.requesterAliases), me))
    return { ok: false, code: 'forbidden', message: `four-eyes: ${approver.name} is the person who requested override ${o.id} (as ${o.requestedBy}) and cannot approve it` };
  const earlier = o.approvers.findIndex((name, i) => samePerson(person(name, o.approverAliases[i]), me));
  if (earlier >= 0)
    return { ok: false, code: 'conflict', message: `${approver.name} already approved override ${o.id} (as ${o.approvers[earlier]}); another person must approve` };
  if (o.approvers.length >= OVERRIDE_APPROVALS) return { ok: false, code: 'conflict', message: `override ${o.id} is already approved` };
  const approvers = [...o.approvers, approver.name];
  const approverAliases = [...o.approvers.map((_, i) => o.approverAliases[i] ?? []), [...new Set([approver.name, ...approver.aliases])]];
  return { ok: true, approvers, approverAliases, complete: approvers.length >= OVERRIDE_APPROVALS };
}
