import { describe, expect, it } from 'vitest';
import { type ChatPort, noChat } from '../../../src/chat/port.js';
import { ManualClock } from '../../../src/core/clock.js';
import type { ReportSlo } from '../../../src/reports/core/facts.js';
import { computeReport } from '../../../src/reports/core/model.js';
import { Reports } from '../../../src/reports/reports.js';
import type { Logger } from '../../../src/telemetry/logger.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { reportFacts } from '../../support/report-facts.js';

/**
 * Reports.post with a report too long for one Slack message: the first message goes to the
 * channel, the rest reply in its thread, in order; a reply that fails does not lose the SLOs of
 * the replies after it, and the failure still surfaces (thrown for the report channel, logged
 * for an owner channel).
 */
const H = 3600_000;
const FROM = Date.parse('2026-11-23T09:00:00Z');
const TO = FROM + 7 * 24 * H;
const SLOS: ReportSlo[] = Array.from({ length: 400 }, (_, i) => ({
  name: `slo-${i}-${'n'.repeat(1200)}`,
  service: i < 200 ? 'team-a' : 'team-b',
  objective: 0.99,
  window: '28d',
  windowMs: 28 * 24 * H,
  ...(i < 200 ? { ownerChannel: 'C-A' } : {}),
}));
const report = computeReport(
  reportFacts({
    period: { start: FROM, end: TO },
    slos: SLOS,
  }),
  TO + H,
);

interface Posted {
  channel: string;
  threadTs: string | undefined;
  text: string;
}

function recordingChat(failOn: (n: number, channel: string) => boolean) {
  const posted: Posted[] = [];
  let n = 0;
  const chat: ChatPort = {
    ...noChat,
    enabled: true,
    async post(channel, message, threadTs) {
      n++;
      if (failOn(n, channel)) throw new Error(`post ${n} failed`);
      posted.push({ channel, threadTs, text: message.text });
      return { channel: `ID-${channel}`, ts: `ts-${n}` };
    },
  };
  return { chat, posted };
}

function reportsWith(chat: ChatPort, logger: Logger = silentLogger) {
  return new Reports({
    db: undefined as never,
    clock: new ManualClock(TO + H),
    logger,
    audit: { flush: async () => {} },
    slos: () => SLOS,
    chat: () => chat,
    channel: 'C-ALL',
    who: 'test',
  });
}

describe('posting a report as a thread', () => {
  it('first message to the channel, the rest in its thread by channel id, in order', async () => {
    const { chat, posted } = recordingChat(() => false);
    await reportsWith(chat).post(report);
    const all = posted.filter((p) => p.channel === 'C-ALL' || p.channel === 'ID-C-ALL');
    expect(all.length).toBeGreaterThan(2);
    expect(all[0]).toMatchObject({ channel: 'C-ALL', threadTs: undefined });
    const replies = all.slice(1);
    expect(replies.every((p) => p.channel === 'ID-C-ALL' && p.threadTs === 'ts-1')).toBe(true);
    expect(replies[0]!.text).toMatch(/: SLOs 1–\d+ of 400$/);
    expect(replies.at(-1)!.text).toMatch(/–400 of 400$/);
    const owner = posted.filter((p) => p.channel.endsWith('C-A'));
    expect(owner[0]).toMatchObject({ channel: 'C-A', threadTs: undefined });
    expect(owner.at(-1)!.text).toMatch(/–200 of 200$/);
  });

  it('a failed reply does not stop the later ones; the report channel then throws', async () => {
    const { chat, posted } = recordingChat((n) => n === 2);
    await expect(reportsWith(chat).post(report)).rejects.toThrow('post 2 failed');
    const replies = posted.filter((p) => p.channel === 'ID-C-ALL');
    expect(replies.length).toBeGreaterThan(1);
    expect(replies.at(-1)!.text).toMatch(/–400 of 400$/);
  });

  it('a failure in the report channel does not keep an owner channel from its report', async () => {
    // Found by an attacker: one refused reply in the report channel threw before the owner
    // channels were posted, so team A got nothing that week although its own post would work.
    for (const failOn of [(n: number) => n === 2, (_: number, channel: string) => channel === 'C-ALL']) {
      const { chat, posted } = recordingChat(failOn);
      await expect(reportsWith(chat).post(report)).rejects.toThrow(/post \d+ failed/);
      const owner = posted.filter((p) => p.channel.endsWith('C-A'));
      expect(owner[0]).toMatchObject({ channel: 'C-A', threadTs: undefined });
      expect(owner.at(-1)!.text).toMatch(/–200 of 200$/);
    }
  });

  it('an owner channel that fails is logged, not thrown', async () => {
    const errors: unknown[] = [];
    const logger = { ...silentLogger, error: (o: unknown) => void errors.push(o) } as unknown as Logger;
    const { chat, posted } = recordingChat((_, channel) => channel === 'ID-C-A');
    await reportsWith(chat, logger).post(report);
    expect(posted.filter((p) => p.channel === 'C-A')).toHaveLength(1);
    expect(errors).toEqual([expect.objectContaining({ channel: 'C-A' })]);
  });
});
