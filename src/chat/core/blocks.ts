import { capText, escapeText, markdownToMrkdwn, revealInvisible, SLACK_LIMIT } from './mrkdwn.js';
import { formatWaiting } from './sla.js';
import { MAX_PATTERN_INPUT_CHARS } from '../../playbooks/core/patterns.js';
import { cancelButton, drillBanner } from './run-blocks.js';

export { escapeText };

/**
 * Block Kit for the incident header, human-step messages and modals. Pure data in, JSON out:
 * tests read the same structures Slack renders. Buttons exist only while a step waits, so a
 * decided, timed-out or cancelled step never shows stale buttons.
 */
export const ACTION = {
  approve: 'quench_approve',
  reject: 'quench_reject',
  reassign: 'quench_reassign',
  /** One button per option of a choice step; its value is `<step id>|<option value>`. */
  choose: 'quench_choose',
  /** Opens the answer modal of an input step. */
  answer: 'quench_answer',
  /** A choice step with more than SELECT_ABOVE options: one static_select; option values as for `choose`. */
  chooseSelect: 'quench_choose_select',
} as const;
/** Past this many options a choice step shows a select instead of a row of buttons. */
export const SELECT_ABOVE = 5;
export const VIEW = { reject: 'quench_reject_reason', reassign: 'quench_reassign_to', answer: 'quench_answer_text' } as const;

/** A choice button's value: the step id, then the option (step ids never contain `|`). */
export const choiceValue = (stepId: string, option: string) => `${stepId}|${option}`;
export function parseChoiceValue(value: string): { stepId: string; option: string } | undefined {
  const bar = value.indexOf('|');
  return bar > 0 ? { stepId: value.slice(0, bar), option: value.slice(bar + 1) } : undefined;
}

export interface RunHeader {
  runId: string;
  playbook: string;
  summary: string;
  severity: string | undefined;
  state: string;
  startedAt: Date;
  trigger: string;
  slo?: { name: string; burnRates: Record<string, number>; budgetRemaining?: number | null | undefined } | undefined;
  acknowledgedBy?: string | undefined;
  openSteps: Array<{ name: string; waitingMs: number; withinMs?: number | undefined }>;
  /** A drill run: the header carries the DRILL banner (run-blocks.ts). */
  drill?: boolean | undefined;
  /** The run has not ended: the header offers the Cancel button (run-blocks.ts). */
  cancellable?: boolean | undefined;
}

export interface StepCard {
  stepId: string;
  /** Named in texts cut to Slack's limits: where the full text is. */
  runId?: string | undefined;
  /** approve: Approve/Reject; choice: a button per option; input: an Answer button opening a modal. */
  type?: 'approve' | 'choice' | 'input' | undefined;
  options?: Array<{ value: string; label?: string | undefined; danger?: boolean | undefined }> | undefined;
  name: string;
  prompt: string;
  description?: string | undefined;
  risk: 'low' | 'medium' | 'high';
  trigger: string;
  evidence: Array<{ label: string; value: string }>;
  assignees: string[];
  requiredApprovals: number;
  approvals: Array<{ by: string; at: Date; value?: string | undefined }>;
  waitingMs: number;
  withinMs?: number | undefined;
  outcome?:
    | { state: 'approved' | 'rejected' | 'timed_out' | 'cancelled'; by?: string | undefined; at: Date; reason?: string | undefined }
    | undefined;
  escalated?: boolean | undefined;
  /** A step of a drill run: the message carries the DRILL banner. */
  drill?: boolean | undefined;
}

type Block = Record<string, unknown>;
const md = (text: string) => ({ type: 'mrkdwn', text });
/** Every text is capped to Slack's limit (an over-long one makes Slack refuse the whole message). */
const section = (text: string, note = ' (truncated)'): Block => ({ type: 'section', text: md(capText(text, SLACK_LIMIT.sectionText, note)) });
const context = (...texts: string[]): Block => ({ type: 'context', elements: texts.map((t) => md(capText(t, SLACK_LIMIT.contextText))) });
const plain = (text: string, limit: number) => ({ type: 'plain_text', text: capText(revealInvisible(text), limit) });
/** Where the full text of a cut step message is: the run (`quench runs show`, or GET /v1/runs/:id). */
const fullRunNote = (s: { runId?: string | undefined }) => (s.runId ? ` (full text: \`quench runs show ${s.runId}\`)` : ' (truncated)');
const iso = (d: Date) => `<!date^${Math.floor(d.getTime() / 1000)}^{date_short_pretty} {time_secs}|${d.toISOString()}>`;

const severityEmoji: Record<string, string> = {
  critical: ':red_circle:',
  error: ':large_orange_circle:',
  warning: ':large_yellow_circle:',
  info: ':white_circle:',
};

export function headerMessage(h: RunHeader): { text: string; blocks: Block[] } {
  const sev = h.severity ?? 'unknown';
  const drill = h.drill ? 'DRILL · ' : '';
  const text = `${severityEmoji[sev] ?? ':white_circle:'} ${drill}${h.playbook}: ${h.summary} (${h.state})`;
  const blocks: Block[] = [
    { type: 'header', text: plain(`${drill}${h.playbook}: ${h.summary}`, SLACK_LIMIT.headerText) },
    ...(h.drill ? [drillBanner()] : []),
    section(`*Severity:* ${sev}   *Status:* ${h.state}   *Run:* \`${h.runId}\`\n*Trigger:* ${escapeText(h.trigger)}`),
  ];
  if (h.slo) {
    const burns = Object.entries(h.slo.burnRates)
      .map(([w, r]) => `${w} ${r.toFixed(1)}×`)
      .join(', ');
    const budget = h.slo.budgetRemaining == null ? 'n/a' : `${(h.slo.budgetRemaining * 100).toFixed(1)}%`;
    blocks.push(section(`*SLO:* ${escapeText(h.slo.name)}   *Burn:* ${burns || 'n/a'}   *Budget left:* ${budget}`));
  }
  if (h.openSteps.length > 0) {
    const lines = h.openSteps.map(
      (s) => `• ${escapeText(s.name)}: waiting ${formatWaiting(s.waitingMs)}${s.withinMs ? ` of ${formatWaiting(s.withinMs)}` : ''}`,
    );
    blocks.push(section(`*Waiting for people:*\n${lines.join('\n')}`));
  }
  if (h.cancellable) blocks.push(cancelButton(h.runId, h.playbook, h.drill ?? false));
  blocks.push(
    context(
      `Started ${iso(h.startedAt)}`,
      h.acknowledgedBy ? `Acknowledged by ${h.acknowledgedBy}` : 'Not acknowledged: `/quench ack ' + h.runId + '`',
    ),
  );
  return { text, blocks };
}

export function stepMessage(s: StepCard): { text: string; blocks: Block[] } {
  const note = fullRunNote(s);
  const blocks: Block[] = [...(s.drill ? [drillBanner()] : []), section(`*${escapeText(s.name)}*: ${escapeText(s.prompt)}`, note)];
  // `description` is Markdown (docs/playbooks.md): rendered as Slack mrkdwn, not escaped to plain text.
  if (s.description) blocks.push(section(markdownToMrkdwn(s.description), note));
  blocks.push(
    section(
      `*Trigger:* ${escapeText(s.trigger)}\n*Risk:* ${s.risk}${s.requiredApprovals > 1 ? ` (needs ${s.requiredApprovals} distinct approvers)` : ''}`,
    ),
  );
  if (s.evidence.length > 0)
    blocks.push({
      type: 'section',
      fields: s.evidence.slice(0, 10).map((e) => md(capText(`*${escapeText(e.label)}*\n${escapeText(e.value)}`, SLACK_LIMIT.sectionField, note))),
    });
  // The id lets people decide from the CLI or API when Slack is unavailable.
  const cliArg = s.type === 'choice' ? ' --choice VALUE' : s.type === 'input' ? ' --input TEXT' : '';
  blocks.push(context(`Step \`${s.stepId}\` · CLI: \`QUENCH_TOKEN=… quench approve ${s.stepId}${cliArg}\``));
  if (s.approvals.length > 0)
    blocks.push(
      context(
        ...s.approvals.map(
          (a) => `:white_check_mark: approved by ${a.by}${a.value !== undefined ? ` with \`${escapeText(a.value)}\`` : ''} at ${iso(a.at)}`,
        ),
      ),
    );
  if (s.approvals.some((a) => a.value !== undefined) && s.requiredApprovals > s.approvals.length)
    blocks.push(context('Four-eyes: the next approver must give the same answer, or both answers are discarded.'));
  if (s.outcome) {
    const { state, by, at, reason } = s.outcome;
    const verb = {
      approved: ':white_check_mark: Approved',
      rejected: ':x: Rejected',
      timed_out: ':hourglass: Timed out',
      cancelled: ':no_entry_sign: Cancelled',
    }[state];
    blocks.push(section(`${verb}${by ? ` by ${by}` : ''} at ${iso(at)}${reason ? `\n>${escapeText(reason)}` : ''}`));
    return { text: capText(revealInvisible(`${s.name}: ${state.replace('_', ' ')}${by ? ` by ${by}` : ''}`), SLACK_LIMIT.sectionText), blocks };
  }
  const clock = `Waiting ${formatWaiting(s.waitingMs)}${s.withinMs ? ` of ${formatWaiting(s.withinMs)} SLA` : ''}${s.escalated ? ' · escalated' : ''}`;
  blocks.push(context(`Assigned to ${s.assignees.join(', ') || 'nobody yet (queued)'}`, clock));
  blocks.push({
    type: 'actions',
    block_id: 'decision',
    elements: [
      ...answerButtons(s),
      { type: 'button', action_id: ACTION.reject, value: s.stepId, style: 'danger', text: { type: 'plain_text', text: 'Reject' } },
      { type: 'button', action_id: ACTION.reassign, value: s.stepId, text: { type: 'plain_text', text: 'Reassign' } },
    ],
  });
  return { text: capText(revealInvisible(`Decision needed: ${s.name}: ${s.prompt}`), SLACK_LIMIT.sectionText), blocks };
}

/**
 * A Block Kit `confirm` dialog: Slack asks "are you sure?" before it sends the click, so a
 * high-risk approval or a dangerous option is never one stray click away.
 */
export function confirmDialog(title: string, text: string, confirm: string): Block {
  return {
    title: plain(title, SLACK_LIMIT.confirmTitle),
    text: plain(text, SLACK_LIMIT.confirmText),
    confirm: plain(confirm, SLACK_LIMIT.confirmButton),
    deny: { type: 'plain_text', text: 'Cancel' },
    style: 'danger',
  };
}

const optionText = (o: { value: string; label?: string | undefined }) => o.label ?? o.value;

function answerButtons(s: StepCard): Block[] {
  if (s.type === 'choice' && s.options?.length) {
    if (s.options.length > SELECT_ABOVE) {
      // A select cannot colour single options: dangerous ones are marked and the select asks to confirm.
      const danger = s.options.filter((o) => o.danger).map(optionText);
      return [
        {
          type: 'static_select',
          action_id: ACTION.chooseSelect,
          placeholder: { type: 'plain_text', text: 'Choose…' },
          options: s.options.map((o) => ({
            text: plain(`${o.danger ? '⚠ ' : ''}${optionText(o)}`, SLACK_LIMIT.optionText),
            value: choiceValue(s.stepId, o.value),
          })),
          ...(danger.length > 0
            ? { confirm: confirmDialog('Confirm your choice', `Some options are dangerous (${danger.join(', ')}). Record this choice for ${s.name}?`, 'Choose') }
            : {}),
        },
      ];
    }
    return s.options.map((o, i) => ({
      type: 'button',
      action_id: `${ACTION.choose}_${i}`,
      value: choiceValue(s.stepId, o.value),
      text: plain(optionText(o), SLACK_LIMIT.buttonText),
      ...(o.danger
        ? { style: 'danger', confirm: confirmDialog(`${optionText(o)}?`, `“${optionText(o)}” is marked dangerous. Choose it for ${s.name}?`, optionText(o)) }
        : {}),
    }));
  }
  if (s.type === 'input')
    return [{ type: 'button', action_id: ACTION.answer, value: s.stepId, style: 'primary', text: { type: 'plain_text', text: 'Answer…' } }];
  return [
    {
      type: 'button',
      action_id: ACTION.approve,
      value: s.stepId,
      style: 'primary',
      text: { type: 'plain_text', text: 'Approve' },
      ...(s.risk === 'high' ? { confirm: confirmDialog('Approve a high-risk step?', `${s.name} is high risk: ${s.prompt}`, 'Approve') } : {}),
    },
  ];
}

export interface InputField {
  label?: string | undefined;
  placeholder?: string | undefined;
  multiline?: boolean | undefined;
  pattern?: string | undefined;
}

/** The modal an input step's Answer button opens: the step's label, placeholder, multiline and pattern. */
export function answerModal(metadata: string, stepName: string, prompt: string, input: InputField = {}): Block {
  return {
    type: 'modal',
    callback_id: VIEW.answer,
    private_metadata: metadata,
    title: { type: 'plain_text', text: 'Answer step' },
    submit: { type: 'plain_text', text: 'Answer' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      section(`*${escapeText(stepName)}*: ${escapeText(prompt)}`),
      {
        type: 'input',
        block_id: 'answer',
        label: plain(input.label ?? 'Answer', SLACK_LIMIT.inputLabel),
        ...(input.pattern ? { hint: plain(`Must match the pattern ${input.pattern}`, SLACK_LIMIT.inputHint) } : {}),
        element: {
          type: 'plain_text_input',
          action_id: 'value',
          multiline: input.multiline ?? false,
          min_length: 1,
          // Answers checked against a pattern are bounded: Slack refuses longer ones in the modal.
          max_length: input.pattern ? MAX_PATTERN_INPUT_CHARS : 3000,
          ...(input.placeholder ? { placeholder: plain(input.placeholder, SLACK_LIMIT.placeholder) } : {}),
        },
      },
    ],
  };
}

/** `private_metadata` carries `<step id>|<channel>`: the channel is where refusals are shown. */
export function rejectModal(metadata: string, stepName: string): Block {
  return {
    type: 'modal',
    callback_id: VIEW.reject,
    private_metadata: metadata,
    title: { type: 'plain_text', text: 'Reject step' },
    submit: { type: 'plain_text', text: 'Reject' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      section(`Reject *${escapeText(stepName)}*? The run continues down its rejection path.`),
      {
        type: 'input',
        block_id: 'reason',
        label: { type: 'plain_text', text: 'Reason' },
        element: { type: 'plain_text_input', action_id: 'value', multiline: true, min_length: 1 },
      },
    ],
  };
}

export function reassignModal(metadata: string, stepName: string): Block {
  return {
    type: 'modal',
    callback_id: VIEW.reassign,
    private_metadata: metadata,
    title: { type: 'plain_text', text: 'Reassign step' },
    submit: { type: 'plain_text', text: 'Reassign' },
    blocks: [
      section(`Hand *${escapeText(stepName)}* to someone else.`),
      {
        type: 'input',
        block_id: 'to',
        label: { type: 'plain_text', text: 'New assignee' },
        element: { type: 'users_select', action_id: 'value' },
      },
    ],
  };
}
