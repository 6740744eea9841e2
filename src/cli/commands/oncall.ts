import { type AckResult, ackMessage, ackSucceeded, acknowledgeRun } from '../../chat/ack.js';
import { listReviews, type ReviewItem, reviewStatuses, type ReviewStatus, reviewStep, type Verdict } from '../../chat/reviews.js';
import { QuenchError } from '../../core/errors.js';
import { PagerDutyEvents } from '../../pagerduty/events.js';
import type { ServiceContext } from '../../service.js';
import { type Backend, withBackend } from '../backend.js';
import { type CliIO, type Command, parseOptions } from '../command.js';
import { tokenOf } from '../token.js';

/**
 * `quench ack RUN` and `quench reviews [list | agree ID | disagree ID]`: the on-call's side of
 * `/quench ack` and `/quench review`, as the owner of QUENCH_TOKEN. Beside a running service
 * they call `POST /v1/runs/:id/ack`, `GET /v1/reviews`, `POST /v1/reviews/:id`; on the
 * database they run the same functions (src/chat/ack.ts, reviews.ts), so every path decides
 * alike. On the database no Slack thread header is redrawn (the service redraws it on the
 * run's next change).
 */
function userOf(ctx: ServiceContext, token: string, what: string): string {
  if (!ctx.auth.configured) throw new QuenchError('forbidden', `${what} needs API tokens: set QUENCH_API_TOKENS (user=token,…), the same the service uses`);
  const user = ctx.auth.identify(token);
  if (!user) throw new QuenchError('unauthorized', 'unknown API token: QUENCH_TOKEN (or standard input) must hold a full-access token of QUENCH_API_TOKENS');
  return user;
}

function databaseDeps(ctx: ServiceContext) {
  const { PAGERDUTY_ROUTING_KEY: routingKey, QUENCH_PAGERDUTY_DRILL_ROUTING_KEY: drillKey, PAGERDUTY_EVENTS_URL: baseUrl } = ctx.config;
  return {
    db: ctx.db,
    audit: ctx.audit,
    clock: ctx.clock,
    events: routingKey ? new PagerDutyEvents({ routingKey, baseUrl }) : undefined,
    drillEvents: drillKey ? new PagerDutyEvents({ routingKey: drillKey, baseUrl }) : undefined,
  };
}

export const ackCommand: Command = {
  path: ['ack'],
  summary: "acknowledge a run and the PagerDuty incident it triggered, as the owner of QUENCH_TOKEN",
  help: `Usage: quench ack RUN_ID [--json]

Acknowledges the run (shown on its Slack thread, audited as run.acknowledged with you and
via: cli) and every PagerDuty incident the run triggered with pagerduty.trigger and did not
resolve, through the Events API v2 (acknowledge, with the trigger's dedup key). Says so when
the run triggered no incident. The same as /quench ack in Slack and POST /v1/runs/ID/ack.
  --json  {"runId","by","first","pagerduty":[{"status":"acknowledged"|"already_resolved"|"failed","dedupKey",…}]}
Exit 0 acknowledged (or nothing to acknowledge in PagerDuty), 1 when PagerDuty refused or
could not be reached (the message says why), or the run does not exist.`,
  async run(args, io) {
    const { values, positionals } = parseOptions(args, { json: { type: 'boolean' } }, true);
    const [runId, ...rest] = positionals;
    if (!runId || rest.length) throw new QuenchError('usage', 'expected exactly one RUN_ID (quench runs lists them)');
    const token = await tokenOf(io, 'quench ack RUN');
    const result = await withBackend(
      io,
      async (backend: Backend): Promise<AckResult> => {
        if (backend.kind === 'service') return (await backend.client.request('POST', `/v1/runs/${encodeURIComponent(runId)}/ack`)) as AckResult;
        const user = userOf(backend.ctx, token, 'acknowledging');
        return acknowledgeRun(databaseDeps(backend.ctx), runId, { id: user, name: user, via: 'cli' });
      },
      { token },
    );
    io.stdout(values.json ? `${JSON.stringify(result, null, 2)}\n` : `${ackMessage(result, (s) => s)}\n`);
    return ackSucceeded(result) ? 0 : 1;
  },
};

function printReviews(io: CliIO, reviews: ReviewItem[], json: boolean): void {
  if (json) return io.stdout(`${JSON.stringify(reviews, null, 2)}\n`);
  if (reviews.length === 0) return io.stdout('no auto-approvals to review\n');
  for (const r of reviews) {
    const state = r.review ? `${r.review.verdict} by ${r.review.by}${r.review.note ? `: ${r.review.note}` : ''}` : 'pending';
    io.stdout(`${r.stepId}  run=${r.runId} playbook=${r.playbook} step=${r.step} ${state}\n    ${r.reason ?? ''}\n`);
  }
}

export const reviewsListCommand: Command = {
  path: ['reviews', 'list'],
  summary: 'auto-approvals sampled for review (pending by default)',
  help: `Usage: quench reviews [list] [--status pending|reviewed|all] [--json]

Lists the human steps the approval policy (QUENCH_APPROVAL_POLICY) auto-approved and sampled
for review (sampleShare), oldest first, with the policy's reason and the review once given.
Decide one with: quench reviews agree|disagree STEP_ID [--note TEXT].`,
  async run(args, io) {
    const { values } = parseOptions(args, { status: { type: 'string' }, json: { type: 'boolean' } });
    const status = (values.status ?? 'pending') as ReviewStatus;
    if (!reviewStatuses.includes(status)) throw new QuenchError('usage', `--status must be one of ${reviewStatuses.join(', ')}`);
    return withBackend(io, async (backend) => {
      const reviews =
        backend.kind === 'database'
          ? await listReviews(backend.ctx.db, status)
          : ((await backend.client.request('GET', `/v1/reviews?status=${status}`)) as { reviews: ReviewItem[] }).reviews;
      printReviews(io, reviews, values.json ?? false);
      return 0;
    });
  },
};

export const reviewsCommand: Command = { ...reviewsListCommand, path: ['reviews'], summary: 'auto-approvals sampled for review (list | agree ID | disagree ID)' };

const reviewCommand = (verdict: Verdict): Command => ({
  path: ['reviews', verdict],
  summary: `record that you ${verdict} with a sampled auto-approval, as the owner of QUENCH_TOKEN`,
  help: `Usage: quench reviews ${verdict} STEP_ID [--note TEXT] [--json]

Records your review of an auto-approval sampled for review (quench reviews lists them). A review
is final: a second one is refused (exit 1), as is one by the person who started the run.
Audited as human_step.reviewed; disagreements count in quench_review_disagreements_total.`,
  async run(args, io) {
    const { values, positionals } = parseOptions(args, { note: { type: 'string' }, json: { type: 'boolean' } }, true);
    const [stepId, ...rest] = positionals;
    if (!stepId || rest.length) throw new QuenchError('usage', 'expected exactly one STEP_ID (quench reviews lists them)');
    const token = await tokenOf(io, 'quench reviews agree STEP_ID');
    const review = await withBackend(
      io,
      async (backend): Promise<ReviewItem> => {
        if (backend.kind === 'service')
          return (await backend.client.request('POST', `/v1/reviews/${encodeURIComponent(stepId)}`, { verdict, ...(values.note ? { note: values.note } : {}) })) as ReviewItem;
        const user = userOf(backend.ctx, token, 'reviewing');
        return reviewStep(databaseDeps(backend.ctx), stepId, verdict, values.note, { person: { aliases: [user], display: user }, id: user, name: user, via: 'cli' });
      },
      { token },
    );
    io.stdout(values.json ? `${JSON.stringify(review, null, 2)}\n` : `review of ${review.step} (run ${review.runId}) recorded: ${verdict} by ${review.review?.by}\n`);
    return 0;
  },
});

export const reviewsAgreeCommand = reviewCommand('agree');
export const reviewsDisagreeCommand = reviewCommand('disagree');
