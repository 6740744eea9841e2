import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTION, choiceValue } from '../../src/chat/core/blocks.js';
import type { PlaybookSource } from '../../src/playbooks/core/model.js';
import { buttonClick, interactionBody, viewSubmission } from '../support/slack-signer.js';
import { CHANNEL, people, type SlackHarness, startSlackHarness } from './slack-harness.js';

/**
 * Issue 15 acceptance (Slack): signed requests through the fake Slack decide a choice step by
 * button and by select, an input step through its modal (a pattern error shown in the modal,
 * then a valid answer) and a high-risk approval behind a Block Kit `confirm`; each step ends
 * as the engine expects and its message is updated in place. Refusals reach the person as
 * ephemeral messages.
 */
type Block = { type: string; elements?: Array<Record<string, unknown>>; [k: string]: unknown };
type Who = keyof typeof people;
// Block Kit JSON read back from the fake: loosely typed on purpose, the assertions check its shape.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const human = (extra: Record<string, unknown>): PlaybookSource['steps'] =>
  [
    { id: 'ask', kind: 'human', prompt: 'What now?', assign: { users: [people.ada.email, people.bob.email] }, ...extra },
    { id: 'after', kind: 'action', action: 'log', params: { message: 'done' } },
  ] as PlaybookSource['steps'];

describe('Slack: every human step type decided from its message', () => {
  let h: SlackHarness;
  let n = 0;
  beforeAll(async () => {
    h = await startSlackHarness('pglite');
  });
  afterAll(async () => h?.close());

  const messageOf = (stepId: string) => h.slack.messages.find((m) => JSON.stringify(m.blocks ?? []).includes(stepId))!;
  const actionsOf = (stepId: string) => ((messageOf(stepId).blocks as Block[]).find((b) => b.type === 'actions')?.elements ?? []) as Json[];
  const stepOf = async (runId: string, stepId: string) => (await h.ctx.ports.engine.getRun(runId))!.steps.find((s) => s.id === stepId)!;
  const ephemeralsTo = (who: Who) => h.slack.callsTo('chat.postEphemeral').filter((c) => c.args.user === people[who].id).map((c) => String(c.args.text));

  async function post(payload: Record<string, unknown>) {
    const res = await h.slackPost(interactionBody(payload));
    await h.settle();
    return res;
  }
  function click(who: Who, stepId: string, element: Json, selected?: string) {
    const m = messageOf(stepId);
    const payload = buttonClick({
      user: { id: people[who].id, name: people[who].name },
      actionId: element.action_id,
      value: element.value ?? '',
      channel: m.channel,
      messageTs: m.ts,
      actionTs: `1767571400.${String(++n).padStart(6, '0')}`,
      triggerId: `trig.${++n}`,
    });
    if (selected !== undefined) {
      // A static_select sends the picked option instead of a value.
      const action = (payload.actions as Array<Record<string, unknown>>)[0]!;
      delete action.value;
      Object.assign(action, { type: 'static_select', selected_option: { text: { type: 'plain_text', text: selected }, value: selected } });
    }
    return post(payload);
  }
  function submitAnswer(who: Who, stepId: string, value: string) {
    return post(
      viewSubmission({
        user: { id: people[who].id, name: people[who].name },
        callbackId: 'quench_answer_text',
        privateMetadata: `${stepId}|${CHANNEL}`,
        values: { answer: { value } },
        viewId: `VANS${++n}`,
      }),
    );
  }
  /** The message was edited in place (chat.update on the same ts), now shows the outcome and has no controls. */
  function expectClosedInPlace(stepId: string, outcome: RegExp) {
    const m = messageOf(stepId);
    expect(h.slack.messages.filter((x) => JSON.stringify(x.blocks ?? []).includes(stepId))).toHaveLength(1);
    expect(m.history.length).toBeGreaterThan(1);
    expect(h.slack.callsTo('chat.update').some((c) => c.args.ts === m.ts)).toBe(true);
    expect((m.blocks as Block[]).some((b) => b.type === 'actions')).toBe(false);
    expect(JSON.stringify(m.blocks)).toMatch(outcome);
  }

  it('choice with buttons: one per option, danger styled and confirmed; a click decides with that option', async () => {
    const options = [{ value: 'restart' }, { value: 'failover', label: 'Fail over to us-east', danger: true }, { value: 'wait' }];
    const runId = await h.startRun(human({ type: 'choice', options }));
    const stepId = await h.waitingStep(runId, 'ask');
    const buttons = actionsOf(stepId).filter((e) => String(e.action_id).startsWith(`${ACTION.choose}_`));
    expect(buttons.map((b) => b.value)).toEqual(options.map((o) => choiceValue(stepId, o.value)));
    expect(buttons.map((b) => b.text.text)).toEqual(['restart', 'Fail over to us-east', 'wait']);
    expect(buttons[1]!.style).toBe('danger');
    expect(buttons[1]!.confirm).toMatchObject({ title: { type: 'plain_text' }, confirm: { type: 'plain_text' }, deny: { type: 'plain_text' }, style: 'danger' });
    expect(buttons[0]!.confirm).toBeUndefined();
    expect(buttons[0]!.style).toBeUndefined();

    // A stranger's click is refused, privately.
    const eveTold = ephemeralsTo('eve').length;
    await click('eve', stepId, buttons[1]!);
    expect(ephemeralsTo('eve').length).toBe(eveTold + 1);
    expect((await stepOf(runId, stepId)).status).toBe('waiting');

    await click('ada', stepId, buttons[1]!);
    await h.drain();
    const step = await stepOf(runId, stepId);
    expect(step.status).toBe('succeeded');
    expect(step.output).toMatchObject({ value: 'failover' });
    expectClosedInPlace(stepId, /Approved/);
  });

  it('choice past five options: a static_select (danger marked, confirm asked); picking decides', async () => {
    const options = ['a', 'b', 'c', 'd', 'e', 'f'].map((v) => ({ value: `zone-${v}`, ...(v === 'f' ? { danger: true, label: 'Drain all' } : {}) }));
    const runId = await h.startRun(human({ type: 'choice', options }));
    const stepId = await h.waitingStep(runId, 'ask');
    const elements = actionsOf(stepId);
    expect(elements.some((e) => /^quench_choose_\d+$/.test(String(e.action_id)))).toBe(false);
    const select = elements.find((e) => e.type === 'static_select')!;
    expect(select.action_id).toBe(ACTION.chooseSelect);
    expect(select.options.map((o: { value: string }) => o.value)).toEqual(options.map((o) => choiceValue(stepId, o.value)));
    expect(select.options[5].text.text).toMatch(/⚠.*Drain all/);
    expect(select.confirm).toMatchObject({ style: 'danger' });

    const eveTold = ephemeralsTo('eve').length;
    await click('eve', stepId, select, choiceValue(stepId, 'zone-c'));
    expect(ephemeralsTo('eve').length).toBe(eveTold + 1);
    // An option the step does not have (a forged payload) is refused by the engine and told privately.
    const bobTold = ephemeralsTo('bob').length;
    await click('bob', stepId, select, choiceValue(stepId, 'zone-z'));
    expect(ephemeralsTo('bob').length).toBe(bobTold + 1);
    expect((await stepOf(runId, stepId)).status).toBe('waiting');

    await click('bob', stepId, select, choiceValue(stepId, 'zone-c'));
    await h.drain();
    const step = await stepOf(runId, stepId);
    expect(step.status).toBe('succeeded');
    expect(step.output).toMatchObject({ value: 'zone-c' });
    expectClosedInPlace(stepId, /Approved/);
  });

  it('input: the modal has the label, placeholder, multiline and pattern; a pattern error shows in the modal, then a valid answer decides', async () => {
    const input = { label: 'Ticket number', placeholder: 'INC-1234', multiline: true, pattern: 'INC-[0-9]+' };
    const runId = await h.startRun(human({ type: 'input', input }));
    const stepId = await h.waitingStep(runId, 'ask');
    const answer = actionsOf(stepId).find((e) => e.action_id === ACTION.answer)!;

    // A stranger gets no form, but a private refusal.
    const before = h.slack.callsTo('views.open').length;
    const eveTold = ephemeralsTo('eve').length;
    await click('eve', stepId, answer);
    expect(h.slack.callsTo('views.open').length).toBe(before);
    expect(ephemeralsTo('eve').length).toBe(eveTold + 1);

    await click('ada', stepId, answer);
    const opened = h.slack.callsTo('views.open').at(-1)!;
    const view = JSON.parse(String(opened.args.view)) as { callback_id: string; private_metadata: string; blocks: Block[] };
    expect(view.callback_id).toBe('quench_answer_text');
    expect(view.private_metadata).toBe(`${stepId}|${CHANNEL}`);
    const field = view.blocks.find((b) => b.type === 'input') as Json;
    expect(field.label.text).toBe('Ticket number');
    expect(field.element).toMatchObject({ type: 'plain_text_input', multiline: true, placeholder: { type: 'plain_text', text: 'INC-1234' } });
    expect(field.hint.text).toContain('INC-[0-9]+');

    const bad = await submitAnswer('ada', stepId, 'not a ticket');
    expect(bad.status).toBe(200);
    const errors = (await bad.json()) as { response_action: string; errors: Record<string, string> };
    expect(errors.response_action).toBe('errors');
    expect(errors.errors.answer).toContain('INC-[0-9]+');
    expect((await stepOf(runId, stepId)).status).toBe('waiting');

    const good = await submitAnswer('ada', stepId, 'INC-4711');
    expect(good.status).toBe(200);
    expect(await good.text()).toBe('');
    await h.drain();
    const step = await stepOf(runId, stepId);
    expect(step.status).toBe('succeeded');
    expect(step.output).toMatchObject({ value: 'INC-4711' });
    expectClosedInPlace(stepId, /Approved/);
  });

  it('high-risk approve asks to confirm; two distinct approvals decide it; a second click by the same person is refused privately', async () => {
    const low = await h.startRun(human({ type: 'approve' }));
    const lowStep = await h.waitingStep(low, 'ask');
    expect(actionsOf(lowStep).find((e) => e.action_id === ACTION.approve)!.confirm).toBeUndefined();

    const runId = await h.startRun(human({ type: 'approve', risk: 'high' }));
    const stepId = await h.waitingStep(runId, 'ask');
    const approve = actionsOf(stepId).find((e) => e.action_id === ACTION.approve)!;
    expect(approve.confirm).toMatchObject({ title: { type: 'plain_text' }, text: { type: 'plain_text' }, confirm: { text: 'Approve' }, style: 'danger' });

    await click('ada', stepId, approve);
    await h.drain();
    expect((await stepOf(runId, stepId)).status).toBe('waiting');
    // The same message now shows the first approval and still offers the (confirming) button.
    expect(JSON.stringify(messageOf(stepId).blocks)).toContain('approved by');
    const again = actionsOf(stepId).find((e) => e.action_id === ACTION.approve)!;
    expect(again.confirm).toBeDefined();

    const told = ephemeralsTo('ada').length;
    await click('ada', stepId, again);
    expect(ephemeralsTo('ada').length).toBe(told + 1);

    await click('bob', stepId, again);
    await h.drain();
    expect((await stepOf(runId, stepId)).status).toBe('succeeded');
    expectClosedInPlace(stepId, /Approved/);
  });
});
