import type { App } from '@slack/bolt';
import { ACTION, answerModal, parseChoiceValue, reassignModal, rejectModal, VIEW } from '../core/blocks.js';
import type { ChatDeps, StoredView } from '../deps.js';
import { handleInbox } from '../inbox.js';
import { enqueueInbox, loadOffer } from '../store.js';
import { authorise } from '../decisions.js';
import { answerRefusal } from '../../playbooks/core/patterns.js';
import { REVIEW_ACTION, REVIEW_VIEW, reviewModal } from '../core/review-blocks.js';
import { auditRefusal, reviewRefusal } from '../reviews.js';
import { deferredCommand, slashCommand } from './commands.js';
import { addRunListeners } from './run-commands.js';
import { blockActionsPayload, type InboxItem, slashCommandPayload, type ViewSubmissionPayload, viewSubmissionPayload } from './payloads.js';

type ViewValues = ViewSubmissionPayload['view']['state']['values'];
/** An inbox item less what every submission adds (who submitted it, for which step, where). */
type StepItem = Extract<InboxItem, { stepId: string }>;
type SubmittedItem = StepItem extends infer I ? (I extends StepItem ? Omit<I, 'stepId' | 'slackUserId' | 'slackUserName' | 'channel'> : never) : never;

/**
 * Bolt listeners. Each validates its payload, writes the interaction to the durable inbox (its
 * key makes Slack retries and replays no-ops), acknowledges, and only then does the work, so
 * Slack always gets its answer within 3 seconds and a crash after the ack loses nothing (the
 * inbox sweeper picks the row up). Modals are the exception: `views.open` needs the trigger id,
 * which Slack expires after 3 seconds, so it is called right after the ack.
 */
export function addListeners(app: App, deps: ChatDeps): void {
  const log = deps.logger.child({ component: 'slack' });

  const enqueue = async (key: string, item: InboxItem) => {
    const seq = await enqueueInbox(deps.db, key, item, deps.clock.now());
    if (seq === undefined) log.info({ key }, 'Slack interaction seen before (retry or replay); ignored');
    return seq;
  };

  // Approve, and a choice step's option buttons: decisions straight from the click.
  const decisionButton = (actionId: string | RegExp, kind: 'approve' | 'choose') =>
    app.action(actionId, async ({ body, ack }) => {
      const p = blockActionsPayload.safeParse(body);
      if (!p.success) {
        await ack();
        return log.warn({ issues: p.error.issues }, 'unexpected block_actions payload');
      }
      const a = p.data.actions[0]!;
      // Buttons carry a value; the select (more than five options) carries the selected option's.
      const value = a.value ?? a.selected_option?.value;
      const choice = kind === 'choose' ? parseChoiceValue(value ?? '') : undefined;
      if (kind === 'choose' && !choice) {
        await ack();
        return log.warn({ value }, 'choice without a step and option');
      }
      const channel = p.data.container?.channel_id ?? p.data.channel?.id;
      const item: InboxItem = {
        kind: 'decide',
        stepId: choice?.stepId ?? value ?? '',
        decision: kind,
        ...(choice ? { value: choice.option } : {}),
        slackUserId: p.data.user.id,
        slackUserName: p.data.user.name ?? p.data.user.username,
        ...(channel ? { channel } : {}),
      };
      const seq = await enqueue(`action:${p.data.user.id}:${a.action_ts}:${a.action_id}:${value}`, item);
      await ack();
      if (seq !== undefined) await handleInbox(deps, seq, item);
    });
  decisionButton(ACTION.approve, 'approve');
  decisionButton(new RegExp(`^${ACTION.choose}_\\d+$`), 'choose');
  decisionButton(ACTION.chooseSelect, 'choose');

  // Reject and Reassign open a modal: check first that the clicker may act, so others get the
  // refusal at once instead of a form they cannot submit.
  const modalButton = (actionId: string, modal: (metadata: string, stepName: string, view: StoredView | undefined) => Record<string, unknown>) =>
    app.action(actionId, async ({ body, ack }) => {
      await ack();
      const p = blockActionsPayload.safeParse(body);
      if (!p.success) return log.warn({ issues: p.error.issues }, 'unexpected block_actions payload');
      const a = p.data.actions[0]!;
      const stepId = a.value ?? '';
      const channel = p.data.container?.channel_id ?? p.data.channel?.id ?? '';
      const person = await deps.people.slackUser(p.data.user.id, p.data.user.name);
      const verdict = await authorise(
        deps,
        stepId,
        person,
        actionId === ACTION.answer ? 'approve' : 'reject',
        actionId === ACTION.answer ? undefined : 'opening the form',
      );
      if (verdict.kind === 'refused') {
        deps.metrics.refusals.inc({ code: verdict.code });
        await deps.audit.append({
          actor: { type: 'user', id: p.data.user.id },
          action: 'human_step.refused',
          subject: { type: 'step', id: stepId },
          data: { slackUserId: p.data.user.id, name: person.display ?? p.data.user.id, attempted: actionId, code: verdict.code },
        });
        if (channel) await deps.chat.ephemeral(channel, p.data.user.id, verdict.message);
        return;
      }
      const offer = await loadOffer(deps.db.orm, stepId);
      const view = offer?.view as StoredView | undefined;
      await deps.chat.openView(p.data.trigger_id, modal(`${stepId}|${channel}`, view?.stepKey ?? stepId, view));
    });
  modalButton(ACTION.reject, (m, name) => rejectModal(m, name));
  modalButton(ACTION.reassign, (m, name) => reassignModal(m, name));
  modalButton(ACTION.answer, (m, name, view) => answerModal(m, name, view?.prompt ?? '', view?.input));

  /**
   * A modal submission: read the field it asks for (or answer with the field's error), then
   * record the resulting inbox item durably before acknowledging, as every interaction does.
   */
  const viewSubmission = (
    callbackId: string,
    read: (
      values: ViewValues,
      stepId: string,
    ) => { item: SubmittedItem } | { error: Record<string, string> } | Promise<{ item: SubmittedItem } | { error: Record<string, string> }>,
  ) =>
    app.view(callbackId, async ({ body, ack }) => {
      const p = viewSubmissionPayload.safeParse(body);
      if (!p.success) return ack();
      const [stepId = '', channel] = p.data.view.private_metadata.split('|');
      const field = await read(p.data.view.state.values, stepId);
      if ('error' in field) return ack({ response_action: 'errors', errors: field.error });
      const item: InboxItem = {
        ...field.item,
        stepId,
        slackUserId: p.data.user.id,
        slackUserName: p.data.user.name,
        ...(channel ? { channel } : {}),
      };
      const seq = await enqueue(`view:${p.data.view.id}:${p.data.view.hash ?? ''}`, item);
      await ack();
      if (seq !== undefined) await handleInbox(deps, seq, item);
    });

  viewSubmission(VIEW.reject, (values) => {
    const reason = values.reason?.value?.value?.trim() ?? '';
    return reason === '' ? { error: { reason: 'A rejection needs a reason.' } } : { item: { kind: 'decide', decision: 'reject', reason } };
  });
  viewSubmission(VIEW.answer, async (values, stepId) => {
    const value = values.answer?.value?.value ?? '';
    if (value.trim() === '') return { error: { answer: 'An answer is needed.' } };
    // The step's pattern is checked here so the person sees why in the modal and can correct it;
    // the engine checks it again when it records the decision.
    const pattern = ((await loadOffer(deps.db.orm, stepId))?.view as StoredView | undefined)?.input?.pattern;
    const refusal = pattern ? answerRefusal(pattern, value) : undefined;
    return refusal ? { error: { answer: `Not accepted: ${refusal}.`.slice(0, 2000) } } : { item: { kind: 'decide', decision: 'input', value } };
  });
  viewSubmission(VIEW.reassign, (values) => {
    const to = values.to?.value?.selected_user;
    return to ? { item: { kind: 'reassign', to } } : { error: { to: 'Pick the new assignee.' } };
  });

  app.command('/quench', async ({ body, ack }) => {
    const p = slashCommandPayload.safeParse(body);
    if (!p.success) return ack({ response_type: 'ephemeral', text: 'Quench could not read this command.' });
    const deferred = deferredCommand(p.data);
    const seq = await enqueueInbox(deps.db, `command:${p.data.trigger_id}`, deferred ?? { kind: 'command', text: p.data.text }, deps.clock.now());
    // Slack retries a command whose first answer was late: it runs once, and the person still sees why nothing new happened.
    if (seq === undefined)
      return ack({ response_type: 'ephemeral', text: 'Quench already received this command (Slack sent it again); it runs once. Check `/quench runs` or `/quench status` for its result.' });
    if (deferred?.kind === 'ack') {
      await ack({ response_type: 'ephemeral', text: `Acknowledging run \`${deferred.runId}\`…` });
      return handleInbox(deps, seq, deferred);
    }
    const answer = await slashCommand(deps, p.data);
    await ack({ response_type: 'ephemeral', ...(typeof answer === 'string' ? { text: answer } : answer) } as never);
  });

  // Agree / Disagree on a sampled auto-approval: refuse at once (own run, already reviewed),
  // else open the note form; its submission is the review (the inbox item `review`).
  for (const verdict of ['agree', 'disagree'] as const) {
    app.action(REVIEW_ACTION[verdict], async ({ body, ack }) => {
      await ack();
      const p = blockActionsPayload.safeParse(body);
      if (!p.success) return log.warn({ issues: p.error.issues }, 'unexpected block_actions payload');
      const stepId = p.data.actions[0]!.value ?? '';
      const channel = p.data.container?.channel_id ?? p.data.channel?.id ?? '';
      const person = await deps.people.slackUser(p.data.user.id, p.data.user.name);
      const refusal = await reviewRefusal(deps.db, stepId, person);
      if (refusal) {
        const name = p.data.user.name ? `${p.data.user.name} (<@${p.data.user.id}>)` : `<@${p.data.user.id}>`;
        await auditRefusal(deps, stepId, verdict, { person, id: p.data.user.id, name, via: 'slack' }, refusal);
        if (channel) await deps.chat.ephemeral(channel, p.data.user.id, refusal.message);
        return;
      }
      const view = (await loadOffer(deps.db.orm, stepId))?.view as StoredView | undefined;
      await deps.chat.openView(p.data.trigger_id, reviewModal(`${stepId}|${channel}|${verdict}`, view?.stepKey ?? stepId, verdict));
    });
  }
  app.view(REVIEW_VIEW, async ({ body, ack }) => {
    const p = viewSubmissionPayload.safeParse(body);
    if (!p.success) return ack();
    const [stepId = '', channel, verdict] = p.data.view.private_metadata.split('|');
    if (verdict !== 'agree' && verdict !== 'disagree') return ack();
    const note = p.data.view.state.values.note?.value?.value?.trim();
    const item: InboxItem = {
      kind: 'review',
      stepId,
      verdict,
      ...(note ? { note } : {}),
      slackUserId: p.data.user.id,
      slackUserName: p.data.user.name,
      ...(channel ? { channel } : {}),
    };
    const seq = await enqueue(`view:${p.data.view.id}:${p.data.view.hash ?? ''}`, item);
    await ack();
    if (seq !== undefined) await handleInbox(deps, seq, item);
  });
  // `/drill` and the incident thread's Cancel button (src/chat/slack/run-commands.ts, cancel.ts).
  addRunListeners(app, deps);
}

