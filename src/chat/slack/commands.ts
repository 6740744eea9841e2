import { isQuenchError } from '../../core/errors.js';
import { desc, eq, inArray, notInArray } from 'drizzle-orm';
import { terminalRunStates } from '../../engine/core/states.js';
import { engineRuns } from '../../engine/schema.js';
import { sloAlertStates } from '../../slo/schema.js';
import type { ChatDeps } from '../deps.js';
import { RUN_USAGE, runCommand } from './run-commands.js';
import { GATE_USAGE } from '../../gate/slack.js';
import { REVIEWS_SHOWN, reviewListMessage } from '../core/review-blocks.js';
import { listReviews, pendingReviewCount } from '../reviews.js';
import { chatHumanSteps } from '../schema.js';
import type { InboxItem, SlashCommandPayload } from './payloads.js';

/**
 * `/quench status | runs | ack RUN | review`. Answers are computed from the database within
 * Slack's 3-second ack and returned in it (ephemeral), so no follow-up call is needed; `ack`
 * alone answers later (see deferredCommand).
 */
const USAGE =
  'Usage: `/quench status` (open runs, firing SLOs, waiting steps, deploy freezes) · `/quench runs` (recent runs) · `/quench ack RUN` (acknowledge a run and its PagerDuty incident) · `/quench review` (auto-approvals sampled for review) · ' +
  GATE_USAGE +
  ' · ' +
  RUN_USAGE;

/** A plain answer, or one with Block Kit (the review list and its buttons). */
export type SlashAnswer = string | { text: string; blocks: Array<Record<string, unknown>> };

export async function slashCommand(deps: ChatDeps, cmd: SlashCommandPayload): Promise<SlashAnswer> {
  try {
    return await answerCommand(deps, cmd);
  } catch (err) {
    // Slack could not say who asked (users.info): an answer to try again, not a silent timeout.
    if (isQuenchError(err, 'slack_unavailable')) return `:warning: ${err.message}.`;
    throw err;
  }
}

async function answerCommand(deps: ChatDeps, cmd: SlashCommandPayload): Promise<SlashAnswer> {
  const [sub = '', ...rest] = cmd.text.trim().split(/\s+/);
  switch (sub.toLowerCase()) {
    case 'status':
      return status(deps);
    case 'runs':
      return runs(deps);
    case 'ack':
      // With a run id the listener defers it (deferredCommand); here only the usage remains.
      return USAGE;
    case 'review':
    case 'reviews':
      return reviews(deps);
    case 'run':
    case 'drill':
      return runCommand(deps, cmd, sub.toLowerCase() as 'run' | 'drill');
    case 'freeze':
    case 'unfreeze':
    case 'override':
    case 'gate':
      return deps.gate?.()?.slash(sub.toLowerCase(), rest, cmd.user_id) ?? 'The deploy gate is not running in this service.';
    default:
      return USAGE;
  }
}

async function status(deps: ChatDeps): Promise<string> {
  const open = await deps.db.orm
    .select({ id: engineRuns.id, playbook: engineRuns.playbook, state: engineRuns.state })
    .from(engineRuns)
    .where(notInArray(engineRuns.state, [...terminalRunStates]))
    .orderBy(desc(engineRuns.createdAt))
    .limit(20);
  const waiting = await deps.db.orm
    .select({ stepId: chatHumanSteps.stepId, runId: chatHumanSteps.runId, status: chatHumanSteps.status })
    .from(chatHumanSteps)
    .where(inArray(chatHumanSteps.status, ['offered', 'queued']));
  const firing = await deps.db.orm.select().from(sloAlertStates).where(eq(sloAlertStates.status, 'firing'));
  const lines = [
    `*Open runs (${open.length}):*`,
    ...open.map((r) => `• \`${r.id}\` ${r.playbook}: ${r.state}`),
    `*Human steps waiting (${waiting.length}):* ${waiting.map((w) => `\`${w.stepId}\`${w.status === 'queued' ? ' (queued)' : ''}`).join(', ') || 'none'}`,
    `*Firing SLO alerts (${firing.length}):* ${firing.map((f) => `${f.slo} (${f.severity}) since ${f.since.toISOString()}`).join(', ') || 'none'}`,
    ...(deps.gate?.()?.statusLines() ?? ['Deploy freezes: `quench gate check SERVICE` or `GET /v1/deploy-gate`.']),
  ];
  return lines.join('\n');
}

async function runs(deps: ChatDeps): Promise<string> {
  const rows = await deps.db.orm
    .select({ id: engineRuns.id, playbook: engineRuns.playbook, state: engineRuns.state, createdAt: engineRuns.createdAt })
    .from(engineRuns)
    .orderBy(desc(engineRuns.createdAt))
    .limit(10);
  if (rows.length === 0) return 'No runs yet.';
  return rows.map((r) => `• \`${r.id}\` ${r.playbook}: ${r.state} (started ${r.createdAt.toISOString()})`).join('\n');
}

/**
 * `/quench ack RUN` may call PagerDuty, which can take longer than Slack's 3-second ack: it is
 * stored in the durable inbox, acknowledged at once, and its answer follows as an ephemeral
 * message (src/chat/inbox.ts). Undefined for every other command.
 */
export function deferredCommand(cmd: SlashCommandPayload): InboxItem | undefined {
  const [sub = '', runId] = cmd.text.trim().split(/\s+/);
  if (sub.toLowerCase() !== 'ack' || !runId) return undefined;
  return {
    kind: 'ack',
    runId,
    slackUserId: cmd.user_id,
    ...(cmd.user_name ? { slackUserName: cmd.user_name } : {}),
    ...(cmd.channel_id ? { channel: cmd.channel_id } : {}),
  };
}

async function reviews(deps: ChatDeps): Promise<SlashAnswer> {
  const pending = await listReviews(deps.db, 'pending', REVIEWS_SHOWN);
  return reviewListMessage(pending, await pendingReviewCount(deps.db));
}
