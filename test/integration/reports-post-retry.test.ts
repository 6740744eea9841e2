import { webApi } from '@slack/bolt';
import { and, eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAuditTrail } from '../../src/audit/trail.js';
import { slackChat } from '../../src/chat/slack/web.js';
import { ManualClock } from '../../src/core/clock.js';
import type { ReportSlo } from '../../src/reports/core/facts.js';
import { renderSlack } from '../../src/reports/core/render-slack.js';
import { Reports } from '../../src/reports/reports.js';
import { reportPeriods } from '../../src/reports/schema.js';
import { claimPeriod, POST_GIVE_UP_MS, POST_LEASE_MS, saveReport } from '../../src/reports/store.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';
import { type FakeSlack, startFakeSlack } from '../support/fake-slack.js';
import { longNamedSlo, reportThreads } from '../support/report-threads.js';

/**
 * A scheduled report that Slack refused is not lost: it stays stored and unposted, and is posted
 * later from where it stopped, after a back-off, by whichever replica holds the posting lease:
 * never a second copy of a message that reached Slack, never two posters at once, never after
 * the give-up horizon. Attacks: an outage at the cron minute, one reply refused mid-thread, an
 * owner channel refusing, the poster dying between storing and posting, two replicas retrying
 * at once.
 */
const H = 3600_000;
const WEEK = 7 * 24 * H;
const TO = Date.parse('2026-11-30T09:00:00Z');
const FROM = TO - WEEK;
const SLOS: ReportSlo[] = Array.from({ length: 300 }, (_, i) => (i < 150 ? longNamedSlo(i, 'team-a', 'C-OWN') : longNamedSlo(i, 'team-b')));

describe.each(databaseKinds)('posting a scheduled report that Slack refused, on %s', (kind) => {
  let tdb: TestDatabase;
  let slack: FakeSlack;
  const clock = new ManualClock(TO + 1_000);

  beforeAll(async () => {
    slack = await startFakeSlack();
  });
  afterAll(async () => {
    await slack?.close();
  });
  afterEach(async () => {
    slack.failWhen('chat.postMessage', undefined);
    await tdb?.dispose();
  });

  const reportsFor = (who: string) =>
    new Reports({
      db: tdb.db,
      clock,
      logger: silentLogger,
      audit: createAuditTrail(tdb.db, clock),
      slos: () => SLOS,
      chat: () => slackChat(new webApi.WebClient('xoxb-test-token', { slackApiUrl: `${slack.url}/`, retryConfig: { retries: 0 } })),
      channel: 'C-REPORTS',
      who,
      leaseClock: 'injected',
    });
  const row = async () => (await tdb.db.orm.select().from(reportPeriods).where(and(eq(reportPeriods.periodStart, new Date(FROM)), eq(reportPeriods.periodEnd, new Date(TO)))))[0]!;
  const { inChannel, expectThread: expectWholeThread } = reportThreads(() => slack);

  async function fresh() {
    tdb = await freshDatabase(kind);
    clock.set(TO + 1_000);
    return slack.messages.length;
  }

  it('an outage at the cron minute: stored and unposted, then posted whole once Slack is back and the back-off is over', async () => {
    const since = await fresh();
    slack.failWhen('chat.postMessage', () => 'fatal_error');
    await reportsFor('replica-a').scheduled(new Date(TO));
    let r = await row();
    expect(r.report).not.toBeNull();
    expect(r.postedAt).toBeNull();
    expect(r.postTries).toBe(1);
    expect(r.postError).toContain('fatal_error');
    expect(r.postNextAt!.getTime()).toBe(TO + 1_000 + 60_000);
    expect(inChannel('C-REPORTS', since)).toHaveLength(0);

    slack.failWhen('chat.postMessage', undefined);
    // Before its back-off is over nothing is tried.
    expect(await reportsFor('replica-b').retryPosts()).toBe(0);
    expect(slack.messages.length).toBe(since);

    clock.set(TO + 1_000 + 60_000);
    expect(await reportsFor('replica-b').retryPosts()).toBe(1);
    const report = r.report as Parameters<typeof renderSlack>[0];
    expectWholeThread('C-REPORTS', since, renderSlack(report).length);
    expectWholeThread('C-OWN', since, renderSlack(report, new Set(['team-a'])).length);
    r = await row();
    expect(r.postedAt).not.toBeNull();
    expect(r.postLeaseBy).toBeNull();

    // Posted: never again, however often the retry runs.
    const after = slack.messages.length;
    clock.set(TO + 2 * H);
    expect(await reportsFor('replica-a').retryPosts()).toBe(0);
    expect(slack.messages.length).toBe(after);
  }, 120_000);

  it('one reply refused mid-thread and an owner channel refusing: the retry posts only what is missing, in the existing thread', async () => {
    const since = await fresh();
    let reportChannelPosts = 0;
    slack.failWhen('chat.postMessage', (args) => {
      if (args.channel === 'C-OWN') return 'not_in_channel';
      // The report channel's second message: its first reply.
      return args.channel === 'C-REPORTS' && ++reportChannelPosts === 2 ? 'fatal_error' : undefined;
    });
    await reportsFor('replica-a').scheduled(new Date(TO));
    const r = await row();
    const report = r.report as Parameters<typeof renderSlack>[0];
    const total = renderSlack(report).length;
    expect(total).toBeGreaterThan(2);
    expect(inChannel('C-REPORTS', since)).toHaveLength(total - 1);
    expect(r.postedAt).toBeNull();
    expect(r.postError).toMatch(/C-REPORTS: .*fatal_error.*C-OWN: .*not_in_channel/);

    slack.failWhen('chat.postMessage', undefined);
    clock.set(TO + 1_000 + 60_000);
    expect(await reportsFor('replica-a').retryPosts()).toBe(1);
    expectWholeThread('C-REPORTS', since, total);
    // The reply that was missing now carries the SLOs it was refused with.
    expect(inChannel('C-REPORTS', since).at(-1)!.text).toBe(renderSlack(report)[1]!.text);
    expectWholeThread('C-OWN', since, renderSlack(report, new Set(['team-a'])).length);
  }, 120_000);

  it('the poster died between storing and posting: another replica posts it once its lease ran out', async () => {
    const since = await fresh();
    const reports = reportsFor('replica-b');
    // The claimant stored the report under its posting lease, then died.
    expect((await claimPeriod(tdb.db, new Date(FROM), new Date(TO), 'replica-dead', 'scheduled', clock.now(), 'injected')).kind).toBe('claimed');
    const report = (await reports.produce(new Date(FROM), new Date(TO + WEEK), 'on_demand')).report; // any computed report will do
    await saveReport(tdb.db, new Date(FROM), new Date(TO), report, clock.now(), 'injected', { by: 'replica-dead', held: true });

    expect(await reports.retryPosts()).toBe(0);
    expect(slack.messages.length).toBe(since);
    clock.set(TO + 1_000 + POST_LEASE_MS + 1);
    // Two replicas look at once: one posts it, the other finds nothing due.
    const posted = await Promise.all([reports.retryPosts(), reportsFor('replica-c').retryPosts()]);
    expect(posted.sort()).toEqual([0, 1]);
    expectWholeThread('C-REPORTS', since, renderSlack(report).length);
    expect((await row()).postedAt).not.toBeNull();
  }, 120_000);

  it('--post of a report whose scheduled posting is pending resumes it: 503 while Slack refuses, then only the missing messages', async () => {
    const since = await fresh();
    let reportChannelPosts = 0;
    slack.failWhen('chat.postMessage', (args) => (args.channel === 'C-REPORTS' && ++reportChannelPosts >= 2 ? 'fatal_error' : undefined));
    await reportsFor('replica-a').scheduled(new Date(TO));
    const report = (await row()).report as Parameters<typeof renderSlack>[0];
    // Still refused: the person is told so (503 slack_unavailable), and nothing is posted twice.
    const refused = await reportsFor('replica-b').produce(new Date(FROM), new Date(TO), 'on_demand', true).catch((err: unknown) => err);
    expect(refused).toMatchObject({ code: 'slack_unavailable', message: expect.stringContaining('fatal_error') as unknown });
    expect((await row()).postTries).toBe(2);
    slack.failWhen('chat.postMessage', undefined);
    // Slack is back: the person's post finishes it at once, before its back-off, without a second copy.
    await reportsFor('replica-b').produce(new Date(FROM), new Date(TO), 'on_demand', true);
    expectWholeThread('C-REPORTS', since, renderSlack(report).length);
    expect((await row()).postedAt).not.toBeNull();
    clock.set(TO + 2 * H);
    expect(await reportsFor('replica-a').retryPosts()).toBe(0);
    expectWholeThread('C-REPORTS', since, renderSlack(report).length);
    // Posted already: a person's post is a new copy, as asked.
    await reportsFor('replica-b').produce(new Date(FROM), new Date(TO), 'on_demand', true);
    expect(inChannel('C-REPORTS', since)).toHaveLength(2 * renderSlack(report).length);
  }, 120_000);

  it('gives up a day after the report was stored (its first try), leaving the report served but unposted', async () => {
    const since = await fresh();
    slack.failWhen('chat.postMessage', () => 'fatal_error');
    await reportsFor('replica-a').scheduled(new Date(TO));
    slack.failWhen('chat.postMessage', undefined);
    clock.set(TO + 1_000 + POST_GIVE_UP_MS);
    const calls = slack.callsTo('chat.postMessage').length;
    expect(await reportsFor('replica-a').retryPosts()).toBe(0);
    expect(slack.callsTo('chat.postMessage').length).toBe(calls);
    expect(slack.messages.length).toBe(since);
    expect((await row()).postedAt).toBeNull();
    expect((await reportsFor('replica-a').produce(new Date(FROM), new Date(TO), 'on_demand')).computed).toBe(false);
  }, 120_000);
});
