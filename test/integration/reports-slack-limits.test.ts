import { webApi } from '@slack/bolt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditTrail } from '../../src/audit/trail.js';
import { slackChat } from '../../src/chat/slack/web.js';
import { ManualClock } from '../../src/core/clock.js';
import type { ReportSlo } from '../../src/reports/core/facts.js';
import { Reports } from '../../src/reports/reports.js';
import { sloSamples } from '../../src/slo/schema.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';
import { type FakeSlack, type FakeSlackMessage, startFakeSlack } from '../support/fake-slack.js';

/**
 * The weekly report of a large installation, posted the way the schedule posts it
 * (Reports.scheduled → chat port → Slack Web API) to a fake Slack that refuses what Slack refuses
 * (test/support/slack-limits.ts). Attack: one section block per SLO put a message over Slack's 50
 * blocks from 47 SLOs on, and a long SLO name put a section over 3,000 characters; Slack answers
 * invalid_blocks and the whole weekly post is lost. 120 SLOs with names from 40 to 6,000
 * characters (with &, < and > that escaping lengthens), half of them owned by one team channel:
 * every message must be accepted and every SLO must appear, once, in its channel — the whole
 * report in a thread (too long for one message), the team's in one message.
 */
const H = 3600_000;
const FROM = Date.parse('2026-11-23T09:00:00Z');
const TO = FROM + 7 * 24 * H;
const LENGTHS = [40, 900, 2000, 1200, 3000];

const SLOS: ReportSlo[] = Array.from({ length: 120 }, (_, i) => {
  const stem = `slo-${String(i).padStart(3, '0')}-<team & co>-`;
  const length = i === 77 ? 6000 : LENGTHS[i % LENGTHS.length]!;
  return {
    name: stem + 'n'.repeat(Math.max(0, length - stem.length)),
    service: `service-${i % 9}-${'s'.repeat(i % 2 === 0 ? 400 : 200)}`,
    objective: 0.999,
    window: '28d',
    windowMs: 28 * 24 * H,
    ...(i % 2 === 0 ? { ownerChannel: 'C-OWNERS' } : {}),
  };
});

const escaped = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** Every mrkdwn/plain_text text of a message's blocks. */
const textsOf = (m: FakeSlackMessage): string[] =>
  (m.blocks ?? []).flatMap((b) => {
    const o = b as { text?: { text?: string }; elements?: Array<{ text?: string }> };
    return [o.text?.text ?? '', ...(o.elements ?? []).map((e) => e.text ?? '')];
  });

describe.each(databaseKinds)('weekly report of 120 SLOs posted to Slack on %s', (kind) => {
  let tdb: TestDatabase;
  let slack: FakeSlack;
  const clock = new ManualClock(TO + 5_000);

  beforeAll(async () => {
    tdb = await freshDatabase(kind);
    slack = await startFakeSlack();
    // A few evaluations per SLO, so every entry carries figures and a chart.
    const rows = SLOS.flatMap((s, i) =>
      [1, 50, 100, 160].map((h) => ({
        slo: s.name,
        at: new Date(FROM + h * H),
        windowStart: new Date(FROM + (h - 1) * H),
        resolutionS: 3600,
        errors: (i + h) % 4,
        total: 1000,
        budgetRemaining: 0.9 - h / 400,
        burnRate: 1 + (h % 3),
      })),
    );
    for (let i = 0; i < rows.length; i += 200) await tdb.db.orm.insert(sloSamples).values(rows.slice(i, i + 200));
  }, 300_000);

  afterAll(async () => {
    await slack?.close();
    await tdb?.dispose();
  });

  it('every message is accepted and every SLO appears once in each channel it belongs to', async () => {
    const reports = new Reports({
      db: tdb.db,
      clock,
      logger: createLogger('silent', 'stderr'),
      audit: createAuditTrail(tdb.db, clock),
      slos: () => SLOS,
      chat: () => slackChat(new webApi.WebClient('xoxb-test-token', { slackApiUrl: `${slack.url}/`, retryConfig: { retries: 0 } })),
      channel: 'C-REPORTS',
      who: 'replica-a',
    });
    await reports.scheduled(new Date(TO));

    const posts = slack.callsTo('chat.postMessage');
    expect(posts.length).toBeGreaterThan(0);
    expect(
      posts.filter((c) => c.error),
      'Slack refused a message',
    ).toEqual([]);

    for (const [channel, expected, threaded] of [
      ['C-REPORTS', SLOS, true],
      ['C-OWNERS', SLOS.filter((s) => s.ownerChannel === 'C-OWNERS'), false],
    ] as const) {
      const messages = slack.messages.filter((m) => m.channel === channel);
      if (threaded) expect(messages.length, channel).toBeGreaterThan(1);
      else expect(messages, channel).toHaveLength(1);
      const [first, ...replies] = messages;
      expect(first, channel).toBeDefined();
      // One report: the first message in the channel, the rest replies in its thread, none loose.
      expect(first!.threadTs).toBeUndefined();
      for (const r of replies) expect(r.threadTs, channel).toBe(first!.ts);
      expect(textsOf(first!).join('\n')).toContain('Weekly SLO report');
      expect(first!.text).toContain('Weekly SLO report');

      const all = messages.flatMap(textsOf).join('\n');
      // Each SLO once, in the report's order: its entry begins with its (escaped) name in bold.
      let from = 0;
      for (const s of expected) {
        const start = `*${escaped(s.name).slice(0, 500)}`;
        const at = all.indexOf(start, from);
        expect(at, `${channel}: ${s.name.slice(0, 12)} missing or out of order`).toBeGreaterThanOrEqual(0);
        expect(all.indexOf(start, at + 1), `${channel}: ${s.name.slice(0, 12)} twice`).toBe(-1);
        from = at;
      }
      expect(all.match(/burn alerts: /g)?.length, channel).toBe(expected.length);
      const others = SLOS.filter((s) => !expected.includes(s));
      for (const s of others) expect(all, channel).not.toContain(escaped(s.name).slice(0, 40));
      // The response figures are there once.
      expect(all.match(/\*Response\* runs started/g)?.length, channel).toBe(1);
    }
  }, 300_000);
});
