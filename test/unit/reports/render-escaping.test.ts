import { describe, expect, it } from 'vitest';
import { computeReport, type Report } from '../../../src/reports/core/model.js';
import { renderHtml } from '../../../src/reports/core/render-html.js';
import { renderMarkdown } from '../../../src/reports/core/render-markdown.js';
import { renderSlack } from '../../../src/reports/core/render-slack.js';
import { reportFacts } from '../../support/report-facts.js';

/**
 * Attacks on the report renderers with the text users control: SLO names, services and the
 * calendar window's zone come from SLO files (a Sloth or OpenSLO name and every `service` are
 * free text), playbook names from playbook files. Each must render as its literal text: no Slack
 * mention or forged link, no broken Markdown table, no HTML.
 */
const H = 3600_000;
const FROM = Date.parse('2026-11-23T09:00:00Z');
const TO = FROM + 7 * 24 * H;

const HOSTILE = [
  '<!channel>',
  '<!here> please',
  'ping <@U123>',
  '<http://evil.example|your bank>',
  'a & b &amp; c',
  'pipe | in | name',
  'two\nlines\r\nthree\rfour',
  'tick `code` here',
  '<img src=x onerror=alert(1)>',
  '[click](http://evil.example) ![i](http://evil.example/x.png)',
  '*bold* _em_ ~strike~ $x$',
  'trailing backslash \\',
  `"quoted" 'single'`,
];

function hostileReport(): Report {
  const facts = reportFacts({
    period: { start: FROM, end: TO },
    slos: HOSTILE.map((name, i) => ({
      name,
      service: `svc ${name}`,
      objective: 0.99,
      window: i === 0 ? 'calendar month (<b>Zone</b>)' : '28d',
      windowMs: 28 * 24 * H,
    })),
    samples: HOSTILE.map((name) => ({ slo: name, at: FROM + H, errors: 1, total: 100, budgetRemaining: 0.5, burnRate: 1 })),
    runs: [{ id: 'r1', playbook: '<!channel> & |x|', drill: false, state: 'succeeded', createdAt: FROM + H, endedAt: FROM + 2 * H, acknowledgedAt: null, steps: [] }],
  });
  return computeReport(facts, TO + H);
}

/** Every mrkdwn text object in a Block Kit message, with its block type. */
function textObjects(blocks: unknown): Array<{ type: string; text: string }> {
  const out: Array<{ type: string; text: string }> = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if ((o.type === 'mrkdwn' || o.type === 'plain_text') && typeof o.text === 'string') out.push({ type: o.type, text: o.text });
      Object.values(o).forEach(walk);
    }
  };
  walk(blocks);
  return out;
}

const slackEscaped = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

describe('Slack report: user text is escaped as Slack requires (&, <, > only)', () => {
  const messages = renderSlack(hostileReport());
  const [message] = messages;
  const mrkdwn = textObjects(messages.map((m) => m.blocks)).filter((t) => t.type === 'mrkdwn');
  // Several SLOs share a section, a blank line apart.
  const entries = mrkdwn.flatMap((t) => t.text.split('\n\n'));

  it('no mrkdwn text carries a raw <, > or an & that is not one of the three escapes', () => {
    expect(messages).toHaveLength(1);
    expect(entries.length).toBeGreaterThan(HOSTILE.length);
    for (const { text } of mrkdwn) {
      expect(text).not.toMatch(/[<>]/);
      expect(text.replace(/&(amp|lt|gt);/g, '')).not.toContain('&');
    }
    // The notification text Slack shows in the push and the sidebar is mrkdwn too.
    expect(message!.text).not.toMatch(/[<>&]/);
  });

  it('each SLO line shows the literal name, service and window', () => {
    HOSTILE.forEach((name, i) => {
      const line = entries.find((t) => t.startsWith(`*${slackEscaped(name)}* (svc ${slackEscaped(name)})`));
      expect(line, name).toBeDefined();
      if (i === 0) expect(line).toContain('(calendar month (&lt;b&gt;Zone&lt;/b&gt;))');
    });
    expect(mrkdwn.some((t) => t.text.includes('runs started: &lt;!channel&gt; &amp; |x| 1'))).toBe(true);
  });

  it('only texts with nothing user-derived are plain_text (the header)', () => {
    const plain = textObjects(message!.blocks).filter((t) => t.type === 'plain_text');
    expect(plain).toEqual([{ type: 'plain_text', text: 'Weekly SLO report' }]);
  });
});

/** GFM: a cell ends at a `|` that is not backslash-escaped. */
const cellsOf = (row: string) => row.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim());
/** CommonMark: a backslash before ASCII punctuation stands for that character. */
const unescapeMd = (s: string) => s.replace(/\\([!-/:-@[-`{-~])/g, '$1');
/** Characters that start or end Markdown/HTML markup: none may be left once the escapes are removed. */
const MARKUP = /[`*_~[\]<>&|$\\]/;

describe('Markdown report: user text stays literal text in its table cell', () => {
  const md = renderMarkdown(hostileReport());
  const lines = md.split('\n');
  const rows = lines.filter((l) => l.startsWith('|')).slice(2);

  it('one table row per SLO, each with its ten cells (no | or line break escapes its cell)', () => {
    expect(rows).toHaveLength(HOSTILE.length);
    for (const row of rows) {
      expect(row.endsWith('|')).toBe(true);
      expect(cellsOf(row)).toHaveLength(10);
    }
  });

  it('the SLO and service cells read back as the literal names, with nothing left to parse as markup', () => {
    HOSTILE.forEach((name, i) => {
      const [slo, service] = cellsOf(rows[i]!);
      const flat = name.replace(/\r\n?|\n/g, ' ');
      expect(unescapeMd(slo!), name).toBe(flat);
      expect(unescapeMd(service!), name).toBe(`svc ${flat}`);
      expect(slo!.replace(/\\[!-/:-@[-`{-~]/g, ''), name).not.toMatch(MARKUP);
    });
    expect(unescapeMd(cellsOf(rows[0]!)[4]!)).toContain('(calendar month (<b>Zone</b>))');
    expect(cellsOf(rows[0]!)[4]).not.toContain('<b>');
  });

  it('playbook names in the response list are escaped too', () => {
    const runs = lines.find((l) => l.startsWith('- Runs started: '))!;
    expect(runs).toBe('- Runs started: \\<!channel\\> \\& \\|x\\| 1');
  });
});

describe('HTML report: user text is escaped in every context', () => {
  const html = renderHtml(hostileReport());

  it('carries no element, attribute or entity from a name', () => {
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<!channel>');
    expect(html).not.toContain('<b>Zone');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('a &amp; b &amp;amp; c');
    expect(html).toContain('&quot;quoted&quot; &#39;single&#39;');
    expect(html).toContain('&lt;!channel&gt; &amp; |x| 1');
  });
});
