import { describe, expect, it } from 'vitest';
import { judgeDecision, type Person, type StepForDecision } from '../../../src/chat/core/decision-policy.js';

const ada: Person = { aliases: ['U0ADA', 'ada@example.com'], display: 'Ada', slackId: 'U0ADA' };
const bob: Person = { aliases: ['U0BOB', 'bob@example.com'], display: 'Bob', slackId: 'U0BOB' };
const eve: Person = { aliases: ['U0EVE'], display: 'Eve' };

function step(over: Partial<StepForDecision> = {}): StepForDecision {
  return { status: 'waiting', requiredApprovals: 1, assignees: [ada, bob], runStartedBy: 'system:ingest', approvals: [], ...over };
}

describe('decision policy', () => {
  it('lets an assignee approve, recognised by any alias (Slack id, email, Quench identity)', () => {
    expect(judgeDecision(step(), ada, 'approve')).toEqual({ kind: 'decided', outcome: 'approved' });
    expect(judgeDecision(step(), { aliases: ['ADA@example.com'] }, 'approve')).toEqual({ kind: 'decided', outcome: 'approved' });
  });

  it('refuses anyone who is not an assignee, naming the assignees', () => {
    const v = judgeDecision(step(), eve, 'approve');
    expect(v).toMatchObject({ kind: 'refused', code: 'not_assignee' });
    expect(v.kind === 'refused' && v.message).toContain('Ada, Bob');
    expect(judgeDecision(step({ open: true }), eve, 'approve')).toMatchObject({ kind: 'decided' });
  });

  it('never lets the run starter approve, but lets them reject with a reason', () => {
    const s = step({ runStartedBy: 'user:ada@example.com' });
    expect(judgeDecision(s, ada, 'approve')).toMatchObject({ kind: 'refused', code: 'own_run' });
    expect(judgeDecision(s, ada, 'reject', 'wrong service')).toEqual({ kind: 'decided', outcome: 'rejected' });
    expect(judgeDecision(s, bob, 'approve')).toMatchObject({ kind: 'decided' });
  });

  it('needs two distinct approvers for four-eyes; the same person twice is refused', () => {
    const s = step({ requiredApprovals: 2 });
    expect(judgeDecision(s, ada, 'approve')).toEqual({ kind: 'approval_recorded', remaining: 1 });
    const after = step({ requiredApprovals: 2, approvals: [{ by: { aliases: ['U0ADA'] }, at: '2026-01-05T00:00:00Z' }] });
    expect(judgeDecision(after, ada, 'approve')).toMatchObject({ kind: 'refused', code: 'already_approved' });
    expect(judgeDecision(after, bob, 'approve')).toEqual({ kind: 'decided', outcome: 'approved' });
  });

  it('refuses decisions on a step that is no longer waiting, saying who decided', () => {
    const v = judgeDecision(step({ status: 'decided', outcome: 'approved', decidedBy: ada }), bob, 'approve');
    expect(v).toMatchObject({ kind: 'refused', code: 'already_decided' });
    expect(v.kind === 'refused' && v.message).toContain('approved by Ada');
    expect(judgeDecision(step({ status: 'timed_out' }), ada, 'approve')).toMatchObject({ code: 'already_decided' });
  });

  it('requires a reason to reject', () => {
    expect(judgeDecision(step(), ada, 'reject', '  ')).toMatchObject({ kind: 'refused', code: 'reason_required' });
  });
});
