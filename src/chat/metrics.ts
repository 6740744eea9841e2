import { Counter, Histogram, type Registry } from 'prom-client';

/** Human-step metrics: how long steps wait to be offered and decided, and what the SLA did. */
export interface ChatMetrics {
  /** Queued (WIP limit reached) until offered to someone. */
  queueTime: Histogram<'playbook'>;
  /** Offered until decided. */
  decisionTime: Histogram<'playbook' | 'outcome'>;
  slaBreaches: Counter<'playbook'>;
  reminders: Counter<'playbook'>;
  escalations: Counter<'playbook'>;
  reassignments: Counter<'playbook' | 'reason'>;
  refusals: Counter<'code'>;
  autoApprovals: Counter<'outcome'>;
}

const buckets = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600];

/** Reuses metrics already on the registry, so a restarted chat component (tests) does not collide. */
function once<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function createChatMetrics(registry: Registry): ChatMetrics {
  const histogram = <L extends string>(name: string, help: string, labelNames: L[]) =>
    once(registry, name, () => new Histogram<L>({ name, help, labelNames, buckets, registers: [registry] }));
  const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
    once(registry, name, () => new Counter<L>({ name, help, labelNames, registers: [registry] }));
  return {
    queueTime: histogram('quench_human_step_queue_seconds', 'Seconds a human step waited in the queue before it was offered to someone.', [
      'playbook',
    ]),
    decisionTime: histogram('quench_human_step_decision_seconds', 'Seconds from offering a human step to its decision.', [
      'playbook',
      'outcome',
    ]),
    slaBreaches: counter('quench_human_step_sla_breaches_total', 'Human steps still undecided when their SLA ran out.', ['playbook']),
    reminders: counter('quench_human_step_reminders_total', 'SLA reminders sent.', ['playbook']),
    escalations: counter('quench_human_step_escalations_total', 'Human steps escalated at the end of their SLA.', ['playbook']),
    reassignments: counter('quench_human_step_reassignments_total', 'Human steps handed to other people (by a person or by the SLA).', [
      'playbook',
      'reason',
    ]),
    refusals: counter('quench_human_step_refusals_total', 'Decisions refused by the authorisation policy.', ['code']),
    autoApprovals: counter('quench_human_step_policy_total', 'Confidence × impact policy outcomes.', ['outcome']),
  };
}
