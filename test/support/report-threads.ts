import { expect } from 'vitest';
import type { ReportSlo } from '../../src/reports/core/facts.js';
import type { FakeSlack } from './fake-slack.js';

/**
 * What the report-posting tests check in the fake Slack: the messages a channel received since
 * a point, and that they are one thread — the first message, then every other in its thread,
 * none twice.
 */
export function reportThreads(slack: () => FakeSlack) {
  const inChannel = (channel: string, since: number) =>
    slack()
      .messages.slice(since)
      .filter((m) => m.channel === channel);
  /**
   * The channel (messages in threads `threadOf` accepts, if given) holds exactly `expected`:
   * their texts when given, else that many distinct messages.
   */
  const expectThread = (channel: string, since: number, expected: number | Array<{ text: string }>, threadOf?: (ts: string) => boolean) => {
    const got = inChannel(channel, since).filter((m) => !threadOf || threadOf(m.threadTs ?? m.ts));
    if (typeof expected === 'number') {
      expect(got).toHaveLength(expected);
      expect(new Set(got.map((m) => m.text)).size).toBe(got.length);
    } else expect(got.map((m) => m.text).sort()).toEqual(expected.map((m) => m.text).sort());
    const [first, ...replies] = got;
    expect(first!.threadTs).toBeUndefined();
    expect(replies.every((m) => m.threadTs === first!.ts)).toBe(true);
  };
  return { inChannel, expectThread };
}

/** An SLO whose long name makes a report of a few of them several messages (a thread), as a large catalog does. */
export const longNamedSlo = (i: number, service: string, ownerChannel?: string): ReportSlo => ({
  name: `slo-${i}-${'n'.repeat(1200)}`,
  service,
  objective: 0.99,
  window: '28d',
  windowMs: 28 * 3600_000 * 24,
  ...(ownerChannel ? { ownerChannel } : {}),
});
