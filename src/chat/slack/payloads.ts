import { z } from 'zod';

/**
 * The Slack payloads Quench reads, one schema each (https://api.slack.com/reference/interaction-payloads).
 * Loose objects: Slack adds fields over time and we must not refuse a click because of one.
 */
const slackUser = z.looseObject({ id: z.string().min(1), username: z.string().optional(), name: z.string().optional() });

/** A button click in a message (`block_actions`). */
export const blockActionsPayload = z.looseObject({
  type: z.literal('block_actions'),
  user: slackUser,
  trigger_id: z.string().min(1),
  container: z.looseObject({ message_ts: z.string().optional(), channel_id: z.string().optional() }).optional(),
  channel: z.looseObject({ id: z.string() }).optional(),
  actions: z
    .array(
      z.looseObject({
        action_id: z.string(),
        value: z.string().optional(),
        /** A static_select's pick (a choice step past five options). */
        selected_option: z.looseObject({ value: z.string() }).nullish(),
        action_ts: z.string(),
        block_id: z.string().optional(),
      }),
    )
    .min(1),
});
export type BlockActionsPayload = z.infer<typeof blockActionsPayload>;

/** A modal submitted (`view_submission`): the reject reason or the reassignment target. */
export const viewSubmissionPayload = z.looseObject({
  type: z.literal('view_submission'),
  user: slackUser,
  view: z.looseObject({
    id: z.string(),
    callback_id: z.string(),
    private_metadata: z.string(),
    hash: z.string().optional(),
    state: z.looseObject({
      values: z.record(
        z.string(),
        z.record(z.string(), z.looseObject({ type: z.string(), value: z.string().nullish(), selected_user: z.string().nullish() })),
      ),
    }),
  }),
});
export type ViewSubmissionPayload = z.infer<typeof viewSubmissionPayload>;

/** A slash command (form fields, https://api.slack.com/interactivity/slash-commands#app_command_handling). */
export const slashCommandPayload = z.looseObject({
  command: z.string().min(1),
  text: z.string().default(''),
  user_id: z.string().min(1),
  user_name: z.string().optional(),
  channel_id: z.string().optional(),
  trigger_id: z.string().min(1),
});
export type SlashCommandPayload = z.infer<typeof slashCommandPayload>;

/** What we store in the durable inbox after acknowledging: one record per click, submission or command. */
export const inboxItemSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('decide'),
    stepId: z.string(),
    decision: z.enum(['approve', 'reject', 'choose', 'input']),
    reason: z.string().optional(),
    /** The option chosen, or the text answered. */
    value: z.string().optional(),
    slackUserId: z.string(),
    slackUserName: z.string().optional(),
    /** Where to send an ephemeral refusal. */
    channel: z.string().optional(),
  }),
  z.object({
    kind: z.literal('reassign'),
    stepId: z.string(),
    slackUserId: z.string(),
    slackUserName: z.string().optional(),
    to: z.string(),
    channel: z.string().optional(),
  }),
  /** `/quench ack RUN`: the thread and the run's PagerDuty incident (src/chat/ack.ts). */
  z.object({
    kind: z.literal('ack'),
    runId: z.string(),
    slackUserId: z.string(),
    slackUserName: z.string().optional(),
    channel: z.string().optional(),
  }),
  /** Agree / Disagree on an auto-approval sampled for review (src/chat/reviews.ts). */
  z.object({
    kind: z.literal('review'),
    stepId: z.string(),
    verdict: z.enum(['agree', 'disagree']),
    note: z.string().optional(),
    slackUserId: z.string(),
    slackUserName: z.string().optional(),
    channel: z.string().optional(),
  }),
]);
export type InboxItem = z.infer<typeof inboxItemSchema>;
