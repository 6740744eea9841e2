import { isQuenchError } from '../core/errors.js';
import { ackMessage, acknowledgeRun } from './ack.js';
import { chatActions } from './actions.js';
import { decideAs, reassign, type SlackAnswer } from './decisions.js';
import { reviewStep } from './reviews.js';
import type { ChatDeps } from './deps.js';
import { inboxItemSchema, type InboxItem } from './slack/payloads.js';
import { markInbox, pendingInbox } from './store.js';

/**
 * Handles one acknowledged Slack interaction from the durable inbox: a decision or a
 * reassignment. Refusals go back to the clicker as an ephemeral message. A failure is recorded
 * on the row and the sweeper tries again (at most 5 times); success marks it processed.
 */
export async function handleInbox(deps: ChatDeps, seq: number, item: InboxItem): Promise<void> {
  try {
    const reply = await handleItem(deps, item);
    if (reply && item.channel) await deps.chat.ephemeral(item.channel, item.slackUserId, reply);
    await markInbox(deps.db, seq, deps.clock.now());
  } catch (err) {
    deps.logger.error({ err, seq, item: item.kind === 'ack' ? item.runId : item.stepId }, 'Slack interaction failed; the inbox sweeper will retry it');
    await markInbox(deps.db, seq, deps.clock.now(), (err as Error).message);
  }
}

/** Does the item's work; returns what to tell the person (refusals, and the answer to ack and review). */
async function handleItem(deps: ChatDeps, item: InboxItem): Promise<string | undefined> {
  const who = item.slackUserName ? `${item.slackUserName} (<@${item.slackUserId}>)` : `<@${item.slackUserId}>`;
  try {
    switch (item.kind) {
      case 'ack':
        return ackMessage(await acknowledgeRun(chatActions(deps), item.runId, { id: item.slackUserId, name: who, via: 'slack' }));
      case 'review': {
        const person = await deps.people.slackUser(item.slackUserId, item.slackUserName);
        const r = await reviewStep(chatActions(deps), item.stepId, item.verdict, item.note, { person, id: item.slackUserId, name: who, via: 'slack' });
        return `Recorded: you ${r.review?.verdict} with the auto-approval of *${r.step}* (run \`${r.runId}\`).`;
      }
      case 'decide':
      case 'reassign': {
        const by = await deps.people.slackUser(item.slackUserId, item.slackUserName);
        const result =
          item.kind === 'decide'
            ? await decideAs(deps, item.stepId, by, answerOf(item))
            : await reassign(deps, item.stepId, by, await deps.people.slackUser(item.to));
        return result.ok ? undefined : result.message;
      }
    }
  } catch (err) {
    // Refusals (no such run, already reviewed, own run) are answers, not failures to retry.
    if (isQuenchError(err) && ['not_found', 'conflict', 'forbidden'].includes(err.code)) return err.message;
    throw err;
  }
}

function answerOf(item: Extract<InboxItem, { kind: 'decide' }>): SlackAnswer {
  if (item.decision === 'reject') return { decision: 'reject', reason: item.reason ?? '' };
  if (item.decision === 'approve') return { decision: 'approve' };
  return { decision: item.decision, value: item.value ?? '' };
}

/** Re-drives interactions a crash (or an error) left unhandled; rows older than `graceMs` only, so live ones are not raced. */
export async function sweepInbox(deps: ChatDeps, graceMs = 10_000): Promise<number> {
  const rows = await pendingInbox(deps.db, new Date(deps.clock.now().getTime() - graceMs));
  for (const row of rows) {
    const item = inboxItemSchema.safeParse(row.item);
    // Slash commands are answered in the ack itself; their rows only guard against retries.
    if (!item.success) await markInbox(deps.db, row.seq, deps.clock.now());
    else await handleInbox(deps, row.seq, item.data);
  }
  return rows.length;
}
