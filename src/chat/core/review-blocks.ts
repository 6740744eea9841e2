import { capText, escapeText, SLACK_LIMIT } from './mrkdwn.js';

/**
 * Block Kit for `/quench review`: the pending reviews of sampled auto-approvals, each with
 * Agree / Disagree buttons that open a short form (an optional note), and that form. Pure.
 */
export const REVIEW_ACTION = { agree: 'quench_review_agree', disagree: 'quench_review_disagree' } as const;
export const REVIEW_VIEW = 'quench_review_note';
/** Reviews listed in one answer (two blocks each, well under Slack's 50 blocks per message). */
export const REVIEWS_SHOWN = 10;

type Block = Record<string, unknown>;

export interface ReviewLine {
  stepId: string;
  runId: string;
  playbook: string;
  step: string;
  prompt: string;
  reason: string | null;
  autoApprovedAt: string | null;
}

export function reviewListMessage(items: ReviewLine[], total: number): { text: string; blocks: Block[] } {
  if (items.length === 0) {
    const text = 'No auto-approvals are waiting for review.';
    return { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] };
  }
  const text = `${total} auto-approval${total === 1 ? '' : 's'} sampled for review`;
  const blocks: Block[] = [{ type: 'section', text: { type: 'mrkdwn', text: `*${text}.* Did the approval policy decide well?` } }];
  for (const r of items.slice(0, REVIEWS_SHOWN)) {
    const lines = [
      `*${escapeText(r.playbook)}* · step *${escapeText(r.step)}* · run \`${r.runId}\``,
      escapeText(r.prompt),
      ...(r.reason ? [`_${escapeText(r.reason)}_`] : []),
      ...(r.autoApprovedAt ? [`auto-approved ${r.autoApprovedAt}`] : []),
    ];
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: capText(lines.join('\n'), SLACK_LIMIT.sectionText, ` (full text: \`quench runs show ${r.runId}\`)`) },
    });
    blocks.push({
      type: 'actions',
      block_id: `review_${r.stepId}`.slice(0, 255),
      elements: [
        { type: 'button', action_id: REVIEW_ACTION.agree, text: { type: 'plain_text', text: 'Agree' }, value: r.stepId, style: 'primary' },
        { type: 'button', action_id: REVIEW_ACTION.disagree, text: { type: 'plain_text', text: 'Disagree…' }, value: r.stepId, style: 'danger' },
      ],
    });
  }
  if (total > REVIEWS_SHOWN)
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `${total - REVIEWS_SHOWN} more: \`quench reviews\` or \`GET /v1/reviews\`.` }] });
  return { text, blocks };
}

/** `private_metadata`: `<step id>|<channel>|<verdict>`. */
export function reviewModal(metadata: string, stepName: string, verdict: 'agree' | 'disagree'): Block {
  return {
    type: 'modal',
    callback_id: REVIEW_VIEW,
    private_metadata: metadata,
    title: { type: 'plain_text', text: verdict === 'agree' ? 'Agree' : 'Disagree' },
    submit: { type: 'plain_text', text: 'Record review' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: capText(
            `You ${verdict} with the auto-approval of *${escapeText(stepName)}*. A review is final and audited.`,
            SLACK_LIMIT.sectionText,
          ),
        },
      },
      {
        type: 'input',
        block_id: 'note',
        optional: true,
        label: { type: 'plain_text', text: 'Note (optional)' },
        element: { type: 'plain_text_input', action_id: 'value', multiline: true, max_length: 2000 },
      },
    ],
  };
}
