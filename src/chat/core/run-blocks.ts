import { capText, escapeText, SLACK_LIMIT } from './mrkdwn.js';

/**
 * Block Kit for run-level controls on the incident thread's header: the DRILL banner and the
 * Cancel button (a Block Kit `confirm` first, then a modal asking why). Pure data, like
 * blocks.ts, which places them in the header.
 */
type Block = Record<string, unknown>;

export const RUN_ACTION = { cancel: 'quench_cancel_run' } as const;
export const RUN_VIEW = { cancel: 'quench_cancel_reason' } as const;

/** Shown on every message of a drill run, so nobody mistakes the exercise for an incident. */
export const DRILL_BANNER = ':test_tube: *DRILL*: a tabletop exercise. Steps not marked drillSafe are simulated; the real deploy gate and real pages are not touched.';

export function drillBanner(): Block {
  return { type: 'context', elements: [{ type: 'mrkdwn', text: DRILL_BANNER }] };
}

/** The Cancel button of a run that has not ended; Slack asks to confirm before it sends the click. */
export function cancelButton(runId: string, playbook: string, drill: boolean): Block {
  return {
    type: 'actions',
    block_id: 'quench_run_controls',
    elements: [
      {
        type: 'button',
        action_id: RUN_ACTION.cancel,
        text: { type: 'plain_text', text: drill ? 'Cancel drill' : 'Cancel run' },
        value: runId,
        style: 'danger',
        confirm: {
          title: { type: 'plain_text', text: capText(`Cancel ${drill ? 'this drill' : 'this run'}?`, SLACK_LIMIT.confirmTitle) },
          text: {
            type: 'plain_text',
            text: capText(
              `Stops ${playbook} now: open steps are cancelled, a step in flight is fenced (its late result is discarded). You will be asked for a reason, which is audited.`,
              SLACK_LIMIT.confirmText,
            ),
          },
          confirm: { type: 'plain_text', text: 'Cancel it' },
          deny: { type: 'plain_text', text: 'Keep it running' },
          style: 'danger',
        },
      },
    ],
  };
}

/** The reason modal; `metadata` is `<run id>|<channel>`. */
export function cancelModal(metadata: string, runId: string, playbook: string): Block {
  return {
    type: 'modal',
    callback_id: RUN_VIEW.cancel,
    private_metadata: metadata,
    title: { type: 'plain_text', text: 'Cancel run' },
    submit: { type: 'plain_text', text: 'Cancel the run' },
    close: { type: 'plain_text', text: 'Back' },
    blocks: [
      {
        type: 'section',
        text: { type: 'mrkdwn', text: capText(`Cancel run \`${runId}\` of *${escapeText(playbook)}*? Say why: the reason is audited with your name.`, SLACK_LIMIT.sectionText) },
      },
      {
        type: 'input',
        block_id: 'reason',
        label: { type: 'plain_text', text: 'Reason' },
        element: { type: 'plain_text_input', action_id: 'value', multiline: true, min_length: 1, max_length: 2000 },
      },
    ],
  };
}
