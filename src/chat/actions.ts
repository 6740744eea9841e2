import type { AckDeps } from './ack.js';
import type { ChatDeps } from './deps.js';
import { refreshHeader } from './messages.js';
import type { ReviewDeps } from './reviews.js';

/** What acknowledging a run and reviewing an auto-approval need, from the chat deps. */
export function chatActions(deps: ChatDeps): AckDeps & ReviewDeps {
  return {
    db: deps.db,
    audit: deps.audit,
    clock: deps.clock,
    events: deps.pagerDutyEvents,
    drillEvents: deps.pagerDutyDrillEvents,
    refreshHeader: (runId) => refreshHeader(deps, runId),
    onDisagreement: (playbook) => deps.metrics.reviewDisagreements.inc({ playbook }),
  };
}
