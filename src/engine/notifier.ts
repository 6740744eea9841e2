import type { Decision } from './model.js';

/**
 * The port through which people hear about human steps. The default does nothing: human
 * steps then wait for `quench approve|reject` or `POST /v1/steps/:id/decision`. The Slack
 * capability installs its own with `engine.setNotifier(...)`.
 *
 * Calls happen after the change committed and are best-effort: a failing notifier is logged
 * and never undoes or blocks the run. A notifier that must not miss a step reconciles on start
 * with `engine.listHumanSteps({ status: 'waiting' })`.
 */
export interface HumanStepView {
  stepId: string;
  runId: string;
  stepKey: string;
  role: 'step' | 'escalation' | 'manual';
  correlationId: string;
  playbook: string;
  /** The playbook step (type approve/choice/input, prompt, options, assign, sla, risk), rendered. */
  prompt: string;
  description?: string;
  type: 'approve' | 'choice' | 'input';
  options?: Array<{ value: string; label?: string; danger?: boolean }>;
  /** An input step's field: label, placeholder, multiline and the pattern answers must match. */
  input?: { label?: string; placeholder?: string; multiline: boolean; pattern?: string };
  risk: 'low' | 'medium' | 'high';
  requiredApprovals: number;
  assign?: unknown;
  sla?: unknown;
  timeoutAt: Date | null;
  startedBy: string;
  drill: boolean;
}

export interface HumanStepNotifier {
  /** A human step started waiting for a decision. */
  waiting(step: HumanStepView): Promise<void>;
  /**
   * It was decided (or got one of several approvals, or its approvals were discarded because
   * four-eyes approvers gave different values), timed out, or was cancelled.
   */
  closed(step: {
    stepId: string;
    runId: string;
    correlationId: string;
    outcome: 'decided' | 'approval_recorded' | 'approvals_reset' | 'timed_out' | 'cancelled';
    decision?: Decision;
    by?: string;
  }): Promise<void>;
}

export const noNotifier: HumanStepNotifier = {
  waiting: async () => {},
  closed: async () => {},
};
