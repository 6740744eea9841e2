import { describe, expect, it } from 'vitest';
import { answerModal, headerMessage, reassignModal, rejectModal, type StepCard, stepMessage } from '../../../src/chat/core/blocks.js';
import { reviewListMessage, reviewModal } from '../../../src/chat/core/review-blocks.js';
import { cancelButton, cancelModal } from '../../../src/chat/core/run-blocks.js';
import { OPTION_VALUE_MAX } from '../../../src/playbooks/core/human-schema.js';
import { blockKitErrors, viewErrors } from '../../support/slack-limits.js';

/**
 * The fake Slack holds every message and modal to Slack's documented Block Kit limits
 * (test/support/slack-limits.ts). First the checker itself: each limit, one past it, is refused
 * at its place. Then every builder Quench sends, fed texts far over every limit: Slack would
 * accept all of it.
 */
const text = (n: number) => ({ type: 'plain_text', text: 'x'.repeat(n) });
const button = (over: Record<string, unknown> = {}) => ({ type: 'button', action_id: 'a', text: text(10), value: 'v', ...over });

describe('the Block Kit checker refuses one past each limit', () => {
  const refused: Array<[string, unknown[], string]> = [
    ['button text 76', [{ type: 'actions', elements: [button({ text: text(76) })] }], '/blocks/0/elements/0/text'],
    ['button value 2001', [{ type: 'actions', elements: [button({ value: 'v'.repeat(2001) })] }], '/blocks/0/elements/0/value'],
    ['26 actions', [{ type: 'actions', elements: Array.from({ length: 26 }, () => button()) }], '/blocks/0/elements'],
    ['11 context elements', [{ type: 'context', elements: Array.from({ length: 11 }, () => text(1)) }], '/blocks/0/elements'],
    ['context text 3001', [{ type: 'context', elements: [text(3001)] }], '/blocks/0/elements/0'],
    ['option text 76', [{ type: 'actions', elements: [{ type: 'static_select', action_id: 's', options: [{ text: text(76), value: 'v' }] }] }], '/blocks/0/elements/0/options/0/text'],
    ['option value 151', [{ type: 'actions', elements: [{ type: 'static_select', action_id: 's', options: [{ text: text(1), value: 'v'.repeat(151) }] }] }], '/blocks/0/elements/0/options/0/value'],
    ['101 options', [{ type: 'actions', elements: [{ type: 'static_select', action_id: 's', options: Array.from({ length: 101 }, (_, i) => ({ text: text(1), value: `v${i}` })) }] }], '/blocks/0/elements/0/options'],
    ['confirm title 101', [{ type: 'actions', elements: [button({ confirm: { title: text(101), text: text(1), confirm: text(1), deny: text(1) } })] }], '/blocks/0/elements/0/confirm/title'],
    ['confirm text 301', [{ type: 'actions', elements: [button({ confirm: { title: text(1), text: text(301), confirm: text(1), deny: text(1) } })] }], '/blocks/0/elements/0/confirm/text'],
    ['confirm button 31', [{ type: 'actions', elements: [button({ confirm: { title: text(1), text: text(1), confirm: text(31), deny: text(1) } })] }], '/blocks/0/elements/0/confirm/confirm'],
    ['action_id 256', [{ type: 'actions', elements: [button({ action_id: 'a'.repeat(256) })] }], '/blocks/0/elements/0/action_id'],
    ['block_id 256', [{ type: 'divider', block_id: 'b'.repeat(256) }], '/blocks/0/block_id'],
    ['input label 2001', [{ type: 'input', label: text(2001), element: { type: 'plain_text_input', action_id: 'v' } }], '/blocks/0/label'],
    ['placeholder 151', [{ type: 'input', label: text(1), element: { type: 'plain_text_input', action_id: 'v', placeholder: text(151) } }], '/blocks/0/element/placeholder'],
  ];
  for (const [what, blocks, at] of refused) {
    it(what, () => {
      const errors = blockKitErrors(blocks);
      expect(errors.some((e) => e.includes(`[json-pointer:${at}`)), errors.join('\n')).toBe(true);
      // One under the limit is accepted: the refusal is the limit's, not the shape's.
    });
  }
  it('accepts each at its limit', () => {
    const ok = [
      { type: 'actions', elements: [...Array.from({ length: 24 }, () => button()), button({ text: text(75), value: 'v'.repeat(2000), action_id: 'a'.repeat(255), confirm: { title: text(100), text: text(300), confirm: text(30), deny: text(30) } })] },
      { type: 'context', elements: Array.from({ length: 10 }, () => text(3000)) },
      { type: 'actions', elements: [{ type: 'static_select', action_id: 's', options: Array.from({ length: 100 }, (_, i) => ({ text: text(75), value: `${i}`.padEnd(150, 'v') })) }] },
      { type: 'input', label: text(2000), hint: text(2000), element: { type: 'plain_text_input', action_id: 'v', placeholder: text(150) } },
    ];
    expect(blockKitErrors(ok)).toEqual([]);
  });
  it('modal title, submit and close past 24, and past 100 blocks', () => {
    const modal = (over: Record<string, unknown>) => ({ type: 'modal', title: text(24), submit: text(24), close: text(24), blocks: [{ type: 'divider' }], ...over });
    expect(viewErrors(modal({}))).toEqual([]);
    expect(viewErrors(modal({ title: text(25) })).join()).toContain('/view/title');
    expect(viewErrors(modal({ submit: text(25) })).join()).toContain('/view/submit');
    expect(viewErrors(modal({ close: text(25) })).join()).toContain('/view/close');
    expect(viewErrors(modal({ blocks: Array.from({ length: 100 }, () => ({ type: 'divider' })) }))).toEqual([]);
    expect(viewErrors(modal({ blocks: Array.from({ length: 101 }, () => ({ type: 'divider' })) })).join()).toContain('/view/blocks');
  });
});

describe('every message and modal Quench builds is within the limits, whatever its texts', () => {
  const long = 'w'.repeat(10_000);
  const card = (over: Partial<StepCard>): StepCard => ({
    stepId: '0b5c1f2e-9d4a-4c7b-8e61-3f2a9c0d7e15',
    runId: 'run-1',
    type: 'approve',
    name: long,
    prompt: long,
    risk: 'high',
    trigger: long,
    evidence: Array.from({ length: 30 }, () => ({ label: long, value: long })),
    assignees: Array.from({ length: 50 }, (_, i) => `<@U${i}>`),
    requiredApprovals: 2,
    approvals: Array.from({ length: 5 }, (_, i) => ({ by: `<@U${i}>`, at: new Date(0), value: long })),
    waitingMs: 0,
    description: long,
    ...over,
  });
  it('step messages of every type', () => {
    for (const over of [
      {},
      // Values as long as a playbook may write them (OPTION_VALUE_MAX), as many as it may list.
      { type: 'choice' as const, options: Array.from({ length: 3 }, (_, i) => ({ value: `${i}${long}`.slice(0, OPTION_VALUE_MAX), label: long, danger: i === 0 })) },
      { type: 'choice' as const, options: Array.from({ length: 25 }, (_, i) => ({ value: `${i}${long}`.slice(0, OPTION_VALUE_MAX), label: long, danger: i === 0 })) },
      { type: 'input' as const },
    ]) {
      const m = stepMessage(card(over as Partial<StepCard>));
      expect(blockKitErrors(m.blocks), JSON.stringify(over).slice(0, 80)).toEqual([]);
    }
    const header = headerMessage({ runId: 'r', playbook: long, summary: long, severity: 'critical', state: 'running', startedAt: new Date(0), trigger: long, openSteps: Array.from({ length: 60 }, () => ({ name: long, waitingMs: 1 })) });
    expect(blockKitErrors(header.blocks)).toEqual([]);
    expect(blockKitErrors([cancelButton('r'.repeat(36), long, true)])).toEqual([]);
    const reviews = reviewListMessage(Array.from({ length: 30 }, () => ({ stepId: 's', runId: 'r', playbook: long, step: long, prompt: long, reason: long, at: new Date(0) })) as never, 30);
    expect(blockKitErrors(reviews.blocks)).toEqual([]);
  });
  it('modals', () => {
    for (const view of [
      answerModal('m', long, long, { label: long, placeholder: long, pattern: long, multiline: true }),
      rejectModal('m', long),
      reassignModal('m', long),
      cancelModal('m', 'r', long),
      reviewModal('m', long, 'disagree'),
    ])
      expect(viewErrors(view)).toEqual([]);
  });
});
