/**
 * Who may decide a human step, and what a decision does: the one authorisation policy for
 * Slack clicks, `quench approve/reject` and `POST /v1/steps/:id/decision`. Pure, so the engine's
 * `decide` and the Slack handlers call the same function and cannot drift apart.
 *
 * Identities are compared as aliases: a person may be known by a Slack user id (`U0123`), an
 * email and a Quench identity (from QUENCH_API_TOKENS). An actor matches an assignee when any
 * alias is shared, case-insensitively.
 */
export interface Person {
  /** Every name the person is known by: Slack id, email, Quench user. */
  aliases: string[];
  /** Shown in messages and the audit trail. */
  display?: string;
  /** Set when the person has a Slack account: messages mention them. */
  slackId?: string;
}

export type Decision = 'approve' | 'reject';

export interface StepForDecision {
  status: 'waiting' | 'decided' | 'cancelled' | 'timed_out';
  /** Distinct approvals needed: 2 for `risk: high` (four-eyes), else 1. */
  requiredApprovals: number;
  assignees: Person[];
  /** A step without `assign` may be decided by any identified user (the other rules still hold). */
  open?: boolean;
  /** `user:<id>` or `system:<component>` (the engine's runs.started_by). */
  runStartedBy: string;
  /** The starting person's other names (runs.started_by_aliases). */
  runStarterAliases?: string[] | null;
  /** Approvals recorded so far (four-eyes keeps the first while waiting for the second). */
  approvals: Array<{ by: Person; at: string }>;
  /** Who decided, when the step is no longer waiting. */
  decidedBy?: Person;
  outcome?: 'approved' | 'rejected';
}

export type RefusalCode = 'not_assignee' | 'own_run' | 'already_approved' | 'already_decided' | 'reason_required' | 'no_such_step';

export type Verdict =
  | { kind: 'refused'; code: RefusalCode; message: string }
  /** An approval that does not yet complete a four-eyes step. */
  | { kind: 'approval_recorded'; remaining: number }
  | { kind: 'decided'; outcome: 'approved' | 'rejected' };

const norm = (s: string) => s.trim().toLowerCase();

export function samePerson(a: Person, b: Person): boolean {
  const left = new Set(a.aliases.map(norm));
  return b.aliases.some((alias) => left.has(norm(alias)));
}

/** The person behind `runs.started_by` with their other names (`started_by_aliases`), if a person started the run. */
export function runStarter(startedBy: string, aliases?: string[] | null): Person | undefined {
  const m = /^user:(.+)$/.exec(startedBy);
  return m ? { aliases: [m[1]!, ...(aliases ?? [])] } : undefined;
}

export function judgeDecision(step: StepForDecision, actor: Person, decision: Decision, reason?: string): Verdict {
  if (step.status !== 'waiting') {
    const who = step.decidedBy?.display ?? step.decidedBy?.aliases[0];
    const what =
      step.status === 'decided'
        ? `already ${step.outcome ?? 'decided'}${who ? ` by ${who}` : ''}`
        : `already ${step.status.replace('_', ' ')}`;
    return { kind: 'refused', code: 'already_decided', message: `This step is ${what}; nothing was changed.` };
  }
  if (!step.open && !step.assignees.some((a) => samePerson(a, actor))) {
    const names = step.assignees.map((a) => a.display ?? a.aliases[0]).join(', ') || 'nobody yet';
    return {
      kind: 'refused',
      code: 'not_assignee',
      message: `Only the step's assignees may decide it (${names}). Ask one of them, or ask them to reassign it to you.`,
    };
  }
  if (decision === 'reject') {
    if (!reason || reason.trim() === '') return { kind: 'refused', code: 'reason_required', message: 'A rejection needs a reason.' };
    return { kind: 'decided', outcome: 'rejected' };
  }
  const starter = runStarter(step.runStartedBy, step.runStarterAliases);
  if (starter && samePerson(starter, actor)) {
    return { kind: 'refused', code: 'own_run', message: 'You started this run, so you may not approve its steps; another assignee must.' };
  }
  if (step.approvals.some((a) => samePerson(a.by, actor))) {
    return {
      kind: 'refused',
      code: 'already_approved',
      message: `You have already approved this step; it needs ${step.requiredApprovals} distinct approvers.`,
    };
  }
  const remaining = step.requiredApprovals - step.approvals.length - 1;
  return remaining > 0 ? { kind: 'approval_recorded', remaining } : { kind: 'decided', outcome: 'approved' };
}
