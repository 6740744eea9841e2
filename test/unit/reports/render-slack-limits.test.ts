import { describe, expect, it } from 'vitest';
import { computeReport, type Report } from '../../../src/reports/core/model.js';
import { renderSlack, type SlackMessage } from '../../../src/reports/core/render-slack.js';
import { blockKitErrors, MESSAGE_BLOCKS } from '../../support/slack-limits.js';
import { reportFacts } from '../../support/report-facts.js';

/**
 * The Slack report within Slack's limits for any number of SLOs and any name length. Attack: one
 * section per SLO made a message of more than 50 blocks from 47 SLOs on (Slack refuses it whole:
 * invalid_blocks), and a long SLO name, service or playbook name a section over 3,000 characters.
 * Each rendering must pass Slack's checks (test/support/slack-limits.ts, which the fake Slack
 * applies too) and show every SLO once, in order.
 */
const H = 3600_000;
const FROM = Date.parse('2026-11-23T09:00:00Z');
const TO = FROM + 7 * 24 * H;

function report(n: number, nameLength: (i: number) => number, playbooks = 1): Report {
  const names = Array.from({ length: n }, (_, i) => {
    const stem = `slo-${i}-<&>-`;
    return stem + 'x'.repeat(Math.max(0, nameLength(i) - stem.length));
  });
  const facts = reportFacts({
    period: { start: FROM, end: TO },
    slos: names.map((name, i) => ({ name, service: `svc-${i % 3}-${'&'.repeat(nameLength(i))}`, objective: 0.99, window: '28d', windowMs: 28 * 24 * H })),
    samples: names.flatMap((name, i) => [1, 2, 3].map((h) => ({ slo: name, at: FROM + h * H, errors: (i % 2) * 2, total: 100, budgetRemaining: 0.5, burnRate: 1 }))),
    runs: Array.from({ length: playbooks }, (_, i) => ({
      id: `r${i}`,
      playbook: `playbook-${i}-${'p'.repeat(60)}`,
      drill: false,
      state: 'succeeded',
      createdAt: FROM + H,
      endedAt: FROM + 2 * H,
      acknowledgedAt: null,
      steps: [],
    })),
  });
  return computeReport(facts, TO + H);
}

const escaped = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const sectionTexts = (m: SlackMessage) => m.blocks.flatMap((b) => (b.type === 'section' && b.text ? [b.text.text] : []));
/** The SLO entries of all messages, in order: each begins with the name in bold. */
const entriesOf = (ms: SlackMessage[]) =>
  ms
    .flatMap(sectionTexts)
    .flatMap((t) => t.split('\n\n'))
    .filter((e) => e.startsWith('*slo-'));

function expectValid(ms: SlackMessage[], what: string) {
  expect(ms.length, what).toBeGreaterThan(0);
  ms.forEach((m, i) => {
    expect(blockKitErrors(m.blocks), `${what}, message ${i}`).toEqual([]);
    expect(m.text.length, what).toBeLessThan(200);
  });
  expect(ms[0]!.blocks[0], what).toEqual({ type: 'header', text: { type: 'plain_text', text: 'Weekly SLO report' } });
}

describe('Slack report within Slack limits', () => {
  it('fits any number of SLOs and any name length, every SLO once and in order', () => {
    for (const n of [0, 1, 46, 47, 48, 120, 500, 2000]) {
      for (const [label, length] of [
        ['short', () => 20],
        ['long', () => 1500],
        ['mixed', (i: number) => [30, 800, 4000, 120][i % 4]!],
      ] as const) {
        const r = report(n, length);
        const ms = renderSlack(r);
        const what = `${n} SLOs, ${label} names`;
        expectValid(ms, what);
        const entries = entriesOf(ms);
        expect(entries, what).toHaveLength(n);
        r.slos.forEach((s, i) => {
          const name = escaped(s.slo);
          // Whole when it fits, else its first thousand characters with an ellipsis: never dropped.
          expect(entries[i]!.startsWith(`*${name.length <= 1000 ? `${name}*` : name.slice(0, 990)}`), `${what}: SLO ${i}`).toBe(true);
          expect(entries[i], what).toContain(`objective 99.000%: period ${i % 2 ? '98.000%' : '100.000%'}`);
        });
      }
    }
  });

  it('one message while it fits (47 short SLOs no longer overflow), else a summary then the SLOs in replies', () => {
    expect(renderSlack(report(47, () => 20))).toHaveLength(1);
    expect(renderSlack(report(120, () => 60))).toHaveLength(1);
    const ms = renderSlack(report(2000, () => 20));
    expect(ms.length).toBeGreaterThan(1);
    const [first, ...replies] = ms;
    // The summary message: period, counts, where the SLOs are, the response figures; no SLO entry.
    expect(entriesOf([first!])).toEqual([]);
    expect(sectionTexts(first!).join('\n')).toContain('*2000 SLOs*: 1000 met the objective over the period, 1000 missed it.');
    expect(JSON.stringify(first!.blocks)).toContain(`in this thread, ${replies.length} replies`);
    expect(sectionTexts(first!).join('\n')).toContain('*Response* runs started');
    // Each reply says which SLOs it holds, and the ranges follow one another.
    let next = 1;
    for (const reply of replies) {
      expect(reply.blocks.length).toBeLessThanOrEqual(MESSAGE_BLOCKS);
      const range = /^SLOs (\d+)–(\d+) of 2000$/.exec((reply.blocks[0] as { elements: Array<{ text: string }> }).elements[0]!.text)!;
      expect(Number(range[1])).toBe(next);
      expect(entriesOf([reply])).toHaveLength(Number(range[2]) - Number(range[1]) + 1);
      expect(reply.text).toContain(range[0]);
      next = Number(range[2]) + 1;
    }
    expect(next).toBe(2001);
  });

  it('an owning team channel gets only its services, within the limits', () => {
    const r = report(300, (i) => (i % 2 ? 900 : 40));
    const ms = renderSlack(r, new Set(['svc-1-' + '&'.repeat(900), 'svc-1-' + '&'.repeat(40)]));
    expectValid(ms, 'owner');
    expect(entriesOf(ms)).toHaveLength(100);
    expect(entriesOf(ms).every((e) => e.includes('(svc-1-'))).toBe(true);
  });

  it('thousands of playbooks in the response figures stay within a section, said to be cut', () => {
    const ms = renderSlack(report(3, () => 20, 3000));
    expectValid(ms, '3000 playbooks');
    const response = sectionTexts(ms[0]!).find((t) => t.startsWith('*Response*'))!;
    expect(response).toContain('runs started: playbook-0-');
    expect(response).toContain('…');
  });
});
