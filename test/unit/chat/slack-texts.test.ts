import { describe, expect, it } from 'vitest';
import { answerModal, headerMessage, type StepCard, stepMessage } from '../../../src/chat/core/blocks.js';
import { capText, markdownToMrkdwn, SLACK_LIMIT } from '../../../src/chat/core/mrkdwn.js';

/** Issue 15: descriptions render as Slack mrkdwn; every text fits Slack's limits with a pointer to the run. */
describe('markdownToMrkdwn', () => {
  it('turns headings into bold lines, lists into bullets, and keeps numbers', () => {
    expect(markdownToMrkdwn('## What happens next\n- roll back\n* page DBA\n  + nested\n1. first\n2) second')).toBe(
      '*What happens next*\n• roll back\n• page DBA\n  • nested\n1. first\n2. second',
    );
  });
  it('converts bold, emphasis, strike and links; only http(s)/mailto links', () => {
    expect(markdownToMrkdwn('**Risk**: *high*, ~~low~~ — see [the runbook](https://wiki.example.com/rb?a=1&b=2)')).toBe(
      '*Risk*: _high_, ~low~ — see <https://wiki.example.com/rb?a=1&amp;b=2|the runbook>',
    );
    expect(markdownToMrkdwn('[x](javascript:alert(1))')).toBe('[x](javascript:alert(1))');
  });
  it('keeps code spans and blocks verbatim (escaped, not formatted)', () => {
    expect(markdownToMrkdwn('run `kubectl get **pods** <ns>` now')).toBe('run `kubectl get **pods** &lt;ns&gt;` now');
    expect(markdownToMrkdwn('```\n# not a heading\n- not a list\n```')).toBe('```# not a heading\n- not a list```');
    expect(markdownToMrkdwn('```sh\necho <x>')).toBe('```echo &lt;x&gt;```');
  });
  it('escapes everything else: no mentions or forged links from a description', () => {
    expect(markdownToMrkdwn('<!channel> & <https://evil|bank>')).toBe('&lt;!channel&gt; &amp; &lt;https://evil|bank&gt;');
  });
});

describe('capText', () => {
  it('leaves short texts alone and cuts long ones to the limit, ending with the note', () => {
    expect(capText('short', 10)).toBe('short');
    const cut = capText('x'.repeat(5000), 3000, ' (full text: run)');
    expect(cut).toHaveLength(3000);
    expect(cut.endsWith('… (full text: run)')).toBe(true);
  });
  it('closes a code block the cut left open and never ends inside an escape or a link', () => {
    const cut = capText('```' + 'a'.repeat(100), 50);
    expect(cut.length).toBeLessThanOrEqual(50);
    expect(cut.match(/```/g)).toHaveLength(2);
    expect(capText('ab &amp; cd', 6)).toBe('ab …');
    expect(capText('see <https://example.com/long|x> more', 20)).toBe('see …');
  });
  it('never cuts a character outside the BMP (an emoji) in half', () => {
    // String.prototype.isWellFormed, without the ES2024 lib: no lone surrogate.
    const wellFormed = (s: string) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
    // Found by an attacker: a 600-emoji SLO name capped at 1,000 UTF-16 units kept a lone high
    // surrogate before the '…', text no strict JSON/UTF-8 decoder accepts.
    for (let limit = 2; limit <= 12; limit++) {
      const cut = capText('😀'.repeat(20), limit);
      expect(wellFormed(cut), `limit ${limit}: ${JSON.stringify(cut)}`).toBe(true);
      expect(cut.length).toBeLessThanOrEqual(limit);
      expect(cut.endsWith('…')).toBe(true);
    }
    expect(wellFormed(capText('```' + '😀'.repeat(40), 20))).toBe(true);
    expect(wellFormed('ab\uD83D…')).toBe(false); // the check itself can fail
  });
});

const card = (over: Partial<StepCard> = {}): StepCard => ({
  stepId: 'step-1',
  runId: 'run-1',
  type: 'approve',
  name: 'approveRollback',
  prompt: 'Roll back?',
  risk: 'low',
  trigger: 'alert',
  evidence: [],
  assignees: ['<@U1>'],
  requiredApprovals: 1,
  approvals: [],
  waitingMs: 0,
  ...over,
});
type Json = { type?: string; text?: { text: string } | string; fields?: Array<{ text: string }>; elements?: Json[]; [k: string]: unknown };
const texts = (v: unknown): string[] =>
  typeof v === 'string' ? [] : Array.isArray(v) ? v.flatMap(texts) : v && typeof v === 'object' ? Object.entries(v).flatMap(([k, x]) => (k === 'text' && typeof x === 'string' ? [x] : texts(x))) : [];

describe('step messages within Slack limits', () => {
  it('renders the description as mrkdwn', () => {
    const blocks = stepMessage(card({ description: '# Why\n- error rate **high**' })).blocks as Json[];
    expect(JSON.stringify(blocks)).toContain('*Why*\\n• error rate *high*');
  });
  it('caps section, field, button, option and header texts, pointing at the run', () => {
    const long = 'y'.repeat(10_000);
    const m = stepMessage(
      card({
        prompt: long,
        description: long,
        evidence: [{ label: 'output', value: long }],
        type: 'choice',
        options: [{ value: 'a', label: long }, { value: 'b', label: 'ok', danger: true }],
      }),
    );
    const blocks = m.blocks as Json[];
    const sections = blocks.filter((b) => b.type === 'section' && b.text) as Array<{ text: { text: string } }>;
    for (const s of sections) expect(s.text.text.length).toBeLessThanOrEqual(SLACK_LIMIT.sectionText);
    expect(sections[0]!.text.text).toContain('quench runs show run-1');
    expect(sections[1]!.text.text).toContain('quench runs show run-1');
    const fields = blocks.find((b) => b.fields)!.fields!;
    for (const f of fields) expect(f.text.length).toBeLessThanOrEqual(SLACK_LIMIT.sectionField);
    const buttons = blocks.find((b) => b.type === 'actions')!.elements!;
    for (const b of buttons) expect((b.text as { text: string }).text.length).toBeLessThanOrEqual(SLACK_LIMIT.buttonText);
    for (const c of buttons.map((b) => b.confirm).filter(Boolean) as Json[]) {
      expect(((c.title as { text: string }).text).length).toBeLessThanOrEqual(SLACK_LIMIT.confirmTitle);
      expect(((c.text as { text: string }).text).length).toBeLessThanOrEqual(SLACK_LIMIT.confirmText);
      expect(((c.confirm as { text: string }).text).length).toBeLessThanOrEqual(SLACK_LIMIT.confirmButton);
    }
    expect(m.text.length).toBeLessThanOrEqual(SLACK_LIMIT.sectionText);

    const select = stepMessage(card({ type: 'choice', options: 'abcdef'.split('').map((v) => ({ value: v, label: long })) })).blocks as Json[];
    const menu = select.find((b) => b.type === 'actions')!.elements![0]!;
    for (const o of menu.options as Json[]) expect((o.text as { text: string }).text.length).toBeLessThanOrEqual(SLACK_LIMIT.optionText);

    const header = headerMessage({ runId: 'r', playbook: 'p', summary: long, severity: 'critical', state: 'running', startedAt: new Date(0), trigger: long, openSteps: [] });
    expect(((header.blocks[0] as Json).text as { text: string }).text.length).toBeLessThanOrEqual(SLACK_LIMIT.headerText);
    for (const t of texts(header.blocks)) expect(t.length).toBeLessThanOrEqual(SLACK_LIMIT.sectionText);
  });
  it('caps the answer modal: title, label, hint and placeholder', () => {
    const long = 'z'.repeat(5000);
    const modal = answerModal('s|C', long, long, { label: long, placeholder: long, pattern: long, multiline: false }) as Json;
    expect(((modal.title as { text: string }).text).length).toBeLessThanOrEqual(SLACK_LIMIT.modalTitle);
    const input = (modal.blocks as Json[]).find((b) => b.type === 'input')!;
    expect(((input.label as { text: string }).text).length).toBeLessThanOrEqual(SLACK_LIMIT.inputLabel);
    expect(((input.hint as { text: string }).text).length).toBeLessThanOrEqual(SLACK_LIMIT.inputHint);
    expect((((input.element as Json).placeholder as { text: string }).text).length).toBeLessThanOrEqual(SLACK_LIMIT.placeholder);
    for (const t of texts(modal.blocks)) expect(t.length).toBeLessThanOrEqual(SLACK_LIMIT.sectionText);
  });
});

describe('invisible characters in what a person approves', () => {
  // Bidi embeddings, overrides and isolates reorder what Slack shows ("Trojan Source"); zero-width
  // characters make two different names look the same. Every text that reaches Slack shows each
  // by its code point; marks and joiners (emoji sequences, RTL names) stay as they are.
  const hidden = ['\u202E', '\u202A', '\u202B', '\u202C', '\u202D', '\u2066', '\u2067', '\u2068', '\u2069', '\u200B', '\u2060', '\uFEFF'];
  const sneaky = (s: string) => `${s} \u202Ekcabllor\u202C, pro\u200Bd \u2066x\u2069 \uFEFF👨‍👩‍👧 עברית\u200F`;
  const seenNowhere = (all: string[]) => {
    for (const t of all) for (const c of hidden) expect(t.includes(c), `${JSON.stringify(t)} holds U+${c.charCodeAt(0).toString(16)}`).toBe(false);
  };

  it('a step message: name, prompt, trigger, evidence, description, options and the notification text', () => {
    const m = stepMessage(
      card({
        name: sneaky('approveRollback'),
        prompt: sneaky('Roll back?'),
        trigger: sneaky('alert'),
        evidence: [{ label: sneaky('label'), value: sneaky('value') }],
        description: sneaky('# Why\n- `code`\n```\nblock') + '\n```',
        type: 'choice',
        options: [{ value: 'a', label: sneaky('first') }],
      }),
    );
    const all = [m.text, ...texts(m.blocks)];
    seenNowhere(all);
    const joined = all.join('\n');
    expect(joined).toContain('⟦U+202E⟧kcabllor⟦U+202C⟧');
    expect(joined).toContain('pro⟦U+200B⟧d');
    // Joiners and marks are text: the family emoji and the RTL mark survive.
    expect(joined).toContain('👨‍👩‍👧 עברית\u200F');
  });

  it('the weekly report in Slack, Markdown and HTML', async () => {
    const { renderSlack } = await import('../../../src/reports/core/render-slack.js');
    const { computeReport } = await import('../../../src/reports/core/model.js');
    const { reportFacts } = await import('../../support/report-facts.js');
    const report = computeReport(
      reportFacts({ period: { start: 0, end: 7 * 86_400_000 }, slos: [{ name: sneaky('checkout'), service: sneaky('shop'), objective: 0.99, window: '28d', windowMs: 28 * 86_400_000 }] }),
      7 * 86_400_000,
    );
    const all = renderSlack(report).flatMap((m) => [m.text, ...texts(m.blocks)]);
    seenNowhere(all);
    expect(all.join('\n')).toContain('⟦U+202E⟧kcabllor');
    // The Markdown and HTML reports alike.
    const { renderMarkdown } = await import('../../../src/reports/core/render-markdown.js');
    const { renderHtml } = await import('../../../src/reports/core/render-html.js');
    for (const page of [renderMarkdown(report), renderHtml(report)]) {
      seenNowhere([page]);
      expect(page).toContain('⟦U+202E⟧kcabllor');
    }
  });
});
