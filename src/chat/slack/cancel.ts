import type { App } from '@slack/bolt';
import { isQuenchError } from '../../core/errors.js';
import { terminalRunStates } from '../../engine/core/states.js';
import { readRun } from '../../engine/sql/load.js';
import { cancelModal, RUN_ACTION, RUN_VIEW } from '../core/run-blocks.js';
import type { ChatDeps } from '../deps.js';
import { refreshHeader } from '../messages.js';
import { enqueueInbox, thread } from '../store.js';
import { blockActionsPayload, viewSubmissionPayload } from './payloads.js';

/**
 * The incident thread's Cancel button: Slack shows the Block Kit confirm, the click opens a
 * modal asking why, and the submission cancels the run through the same `engine.cancel` as
 * `POST /v1/runs/:id/cancel` and `quench runs cancel` (open steps cancelled, a step in flight
 * fenced so its late result is discarded; no compensation unless the playbook says
 * `onCancel: compensate`, then the completed steps are undone; docs/drills.md). The run is
 * cancelled before the submission is acknowledged (one short transaction), so an error shows
 * in the modal; the inbox key makes a Slack retry a no-op.
 */
export function addCancelListeners(app: App, deps: ChatDeps): void {
  const log = deps.logger.child({ component: 'slack' });

  app.action(RUN_ACTION.cancel, async ({ body, ack }) => {
    await ack();
    const p = blockActionsPayload.safeParse(body);
    if (!p.success) return log.warn({ issues: p.error.issues }, 'unexpected block_actions payload');
    const runId = p.data.actions[0]!.value ?? '';
    const channel = p.data.container?.channel_id ?? p.data.channel?.id ?? '';
    const run = await readRun(deps.db.orm, runId);
    const refusal = !run ? `No run \`${runId}\`.` : terminalRunStates.has(run.state) ? `Run \`${runId}\` has already ended (${run.state}).` : undefined;
    if (refusal || !run) {
      if (channel) await deps.chat.ephemeral(channel, p.data.user.id, refusal ?? 'No such run.');
      if (run) await refreshHeader(deps, runId); // a stale header still offered the button
      return;
    }
    await deps.chat.openView(p.data.trigger_id, cancelModal(`${runId}|${channel}`, runId, run.playbook));
  });

  app.view(RUN_VIEW.cancel, async ({ body, ack }) => {
    const p = viewSubmissionPayload.safeParse(body);
    if (!p.success) return ack();
    const [runId = '', channel] = p.data.view.private_metadata.split('|');
    const reason = p.data.view.state.values.reason?.value?.value?.trim() ?? '';
    if (reason === '') return ack({ response_action: 'errors', errors: { reason: 'A cancellation needs a reason.' } });
    const control = deps.runs?.();
    if (!control) return ack({ response_action: 'errors', errors: { reason: 'The engine is not running in this service.' } });
    const seq = await enqueueInbox(deps.db, `view:${p.data.view.id}:${p.data.view.hash ?? ''}`, { kind: 'cancel', runId, slackUserId: p.data.user.id, reason }, deps.clock.now());
    if (seq === undefined) return ack(); // a Slack retry of a submission already handled
    const person = await deps.people.slackUserOrId(p.data.user.id, p.data.user.name);
    // The person as a token user names them (profile email), else their Slack id: the audit's actor.
    const who = person.aliases.find((a) => a.includes('@')) ?? p.data.user.id;
    let undoing: boolean;
    try {
      undoing = (await control.engine.cancel(runId, { type: 'user', id: who }, reason)).state === 'compensating';
    } catch (err) {
      if (isQuenchError(err) && ['not_found', 'conflict'].includes(err.code)) return ack({ response_action: 'errors', errors: { reason: err.message } });
      throw err;
    }
    await ack();
    const t = await thread(deps.db, runId);
    try {
      if (t) await deps.chat.post(t.channel, { text: `:no_entry: Run cancelled by <@${p.data.user.id}>: ${reason}${undoing ? ' (undoing its completed steps: onCancel: compensate)' : ''}` }, t.ts);
      else if (channel) await deps.chat.ephemeral(channel, p.data.user.id, `Run \`${runId}\` cancelled: ${reason}`);
      await refreshHeader(deps, runId);
    } catch (err) {
      // The run is cancelled and audited; the note is only a courtesy.
      log.warn({ err, runId }, 'cancellation not announced in Slack');
    }
  });
}
