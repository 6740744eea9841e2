import { OVERRIDE_APPROVALS, type Override } from './model.js';

/**
 * Four-eyes on overrides: two distinct people, neither of them the requester, approve before an
 * override lets anything through. Returns the new approver list, or why the approval is refused.
 */
export type ApprovalResult = { ok: true; approvers: string[]; complete: boolean } | { ok: false; code: 'forbidden' | 'conflict'; message: string };

export function approve(o: Override, approver: string, nowMs: number): ApprovalResult {
  if (Date.parse(o.until) <= nowMs) return { ok: false, code: 'conflict', message: `override ${o.id} expired at ${o.until}` };
  if (approver === o.requestedBy)
    return { ok: false, code: 'forbidden', message: `four-eyes: ${approver} requested override ${o.id} and cannot approve it` };
  if (o.approvers.includes(approver))
    return { ok: false, code: 'conflict', message: `${approver} already approved override ${o.id}; another person must approve` };
  if (o.approvers.length >= OVERRIDE_APPROVALS) return { ok: false, code: 'conflict', message: `override ${o.id} is already approved` };
  const approvers = [...o.approvers, approver];
  return { ok: true, approvers, complete: approvers.length >= OVERRIDE_APPROVALS };
}
