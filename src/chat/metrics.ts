import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

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
  /** Reviews of sampled auto-approvals that disagreed with the policy (src/chat/reviews.ts). */
  reviewDisagreements: Counter<'playbook'>;
}

/** Where the pending-reviews gauge reads its count at scrape time: the registry's latest chat component. */
const pendingSources = new WeakMap<Registry, () => Promise<number>>();

const buckets = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600];

/** Reuses metrics already on the registry, so a restarted chat component (tests) does not collide. */
function once<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function createChatMetrics(registry: Registry, pendingReviews?: () => Promise<number>): ChatMetrics {
  if (pendingReviews) pendingSources.set(registry, pendingReviews);
  once(
    registry,
    'quench_reviews_pending',
    () =>
      new Gauge({
        name: 'quench_reviews_pending',
        help: 'Auto-approvals sampled for review that nobody has reviewed yet (counted in the database at scrape time).',
        registers: [registry],
        async collect() {
          const count = pendingSources.get(registry);
          if (count) this.set(await count());
        },
      }),
  );
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
    reviewDisagreements: counter(
      'quench_review_disagreements_total',
      'Reviews of sampled auto-approvals recorded on this replica that disagreed with the approval policy.',
      ['playbook'],
    ),
  };
}
