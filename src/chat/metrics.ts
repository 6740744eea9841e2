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

export function createChatMetrics(registry: Registry): ChatMetrics {
  const registers = [registry];
  return {
    queueTime: new Histogram({
      name: 'quench_human_step_queue_seconds',
      help: 'Seconds a human step waited in the queue before it was offered to someone.',
      labelNames: ['playbook'],
      buckets,
      registers,
    }),
    decisionTime: new Histogram({
      name: 'quench_human_step_decision_seconds',
      help: 'Seconds from offering a human step to its decision.',
      labelNames: ['playbook', 'outcome'],
      buckets,
      registers,
    }),
    slaBreaches: new Counter({
      name: 'quench_human_step_sla_breaches_total',
      help: 'Human steps still undecided when their SLA ran out.',
      labelNames: ['playbook'],
      registers,
    }),
    reminders: new Counter({ name: 'quench_human_step_reminders_total', help: 'SLA reminders sent.', labelNames: ['playbook'], registers }),
    escalations: new Counter({
      name: 'quench_human_step_escalations_total',
      help: 'Human steps escalated at the end of their SLA.',
      labelNames: ['playbook'],
      registers,
    }),
    reassignments: new Counter({
      name: 'quench_human_step_reassignments_total',
      help: 'Human steps handed to other people (by a person or by the SLA).',
      labelNames: ['playbook', 'reason'],
      registers,
    }),
    refusals: new Counter({
      name: 'quench_human_step_refusals_total',
      help: 'Decisions refused by the authorisation policy.',
      labelNames: ['code'],
      registers,
    }),
    autoApprovals: new Counter({
      name: 'quench_human_step_policy_total',
      help: 'Confidence × impact policy outcomes.',
      labelNames: ['outcome'],
      registers,
    }),
  };
}
