import { webApi } from '@slack/bolt';
import { and, eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAuditTrail } from '../../src/audit/trail.js';
import { type ChatPort, noChat } from '../../src/chat/port.js';
import { slackChat } from '../../src/chat/slack/web.js';
import { type Clock, ManualClock } from '../../src/core/clock.js';
import type { ReportSlo } from '../../src/reports/core/facts.js';
import { renderSlack } from '../../src/reports/core/render-slack.js';
import { Reports } from '../../src/reports/reports.js';
import { reportPeriods } from '../../src/reports/schema.js';
import type { LeaseClock } from '../../src/reports/store.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';
import { type FakeSlack, startFakeSlack } from '../support/fake-slack.js';
import { longNamedSlo, reportThreads } from '../support/report-threads.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Who owns a scheduled week's posting. Attacks: a replica without Slack firing first (it may
 * store the week, never claim its posting or mark it posted); a person's read of exactly the
 * scheduled week at the cron minute, finished before the cron or still computing when it fires,
 * and a `--post` of it from a replica without Slack (a read never takes the week from the
 * schedule); replicas whose clocks disagree by an hour (the posting lease goes by the
 * database's clock). Each time: the week reaches Slack, as one thread per channel, once.
 */
const H = 3600_000;
const WEEK = 7 * 24 * H;
const TO = Date.parse('2026-11-30T09:00:00Z');
const FROM = TO - WEEK;
// Long names make the report channel's share several messages (a thread), as a large catalog does.
const SLOS: ReportSlo[] = Array.from({ length: 120 }, (_, i) => (i < 60 ? longNamedSlo(i, 'team-a', 'C-OWN') : longNamedSlo(i, 'team-b')));
type Rendered = Parameters<typeof renderSlack>[0];

describe.each(databaseKinds)('who posts a scheduled week, on %s', (kind) => {
  let tdb: TestDatabase;
  let slack: FakeSlack;
  const clock = new ManualClock(TO);

  beforeAll(async () => {
    slack = await startFakeSlack();
  });
  afterAll(async () => {
    await slack?.close();
  });
  afterEach(async () => {
    slack.holdWhen('chat.postMessage', undefined);
    await tdb?.dispose();
  });

  const withSlack = (): ChatPort => slackChat(new webApi.WebClient('xoxb-test-token', { slackApiUrl: `${slack.url}/`, retryConfig: { retries: 0 } }));
  const reportsFor = (who: string, options: { chat?: () => ChatPort; slos?: () => Promise<ReportSlo[]> | ReportSlo[]; clock?: Clock; leaseClock?: LeaseClock } = {}) =>
    new Reports({
      db: tdb.db,
      clock: options.clock ?? clock,
      logger: silentLogger,
      audit: createAuditTrail(tdb.db, options.clock ?? clock),
      slos: options.slos ?? (() => SLOS),
      chat: options.chat ?? withSlack,
      channel: 'C-REPORTS',
      who,
      leaseClock: options.leaseClock ?? 'injected',
    });
  const rowOf = async (from: number, to: number) => (await tdb.db.orm.select().from(reportPeriods).where(and(eq(reportPeriods.periodStart, new Date(from)), eq(reportPeriods.periodEnd, new Date(to)))))[0]!;
  const { expectThread } = reportThreads(() => slack);
  const expectPostedOnce = async (since: number, from = FROM, to = TO) => {
    const r = await rowOf(from, to);
    expect(r.postedAt).not.toBeNull();
    expect(r.origin).toBe('scheduled');
    expect(renderSlack(r.report as Rendered).length).toBeGreaterThan(1);
    expectThread('C-REPORTS', since, renderSlack(r.report as Rendered));
    expectThread('C-OWN', since, renderSlack(r.report as Rendered, new Set(['team-a'])));
  };

  async function fresh(at = TO + 1_000) {
    tdb = await freshDatabase(kind);
    clock.set(at);
    return slack.messages.length;
  }

  it('a replica without Slack fires first: it stores the week pending, never posted nor leased, and a replica with Slack posts it', async () => {
    const since = await fresh();
    const noSlack = reportsFor('replica-off', { chat: () => noChat });
    await noSlack.scheduled(new Date(TO));
    const stored = await rowOf(FROM, TO);
    expect(stored.report).not.toBeNull();
    expect(stored.postedAt).toBeNull();
    expect(stored.postLeaseUntil).toBeNull();
    expect(await noSlack.retryPosts()).toBe(0);
    // The replica with Slack fires beside it and finds the week stored; its retry posts it at once.
    const withIt = reportsFor('replica-on');
    await withIt.scheduled(new Date(TO));
    expect(await withIt.retryPosts()).toBe(1);
    await expectPostedOnce(since);
    expect(await withIt.retryPosts()).toBe(0);
  }, 120_000);

  it('a replica without Slack catches up missed weeks: each stays pending for a replica with Slack', async () => {
    clock.set(TO - 3 * WEEK + 1_000);
    tdb = await freshDatabase(kind);
    await reportsFor('replica-on').scheduled(new Date(TO - 3 * WEEK));
    const since = slack.messages.length;
    clock.set(TO + H);
    expect(await reportsFor('replica-off', { chat: () => noChat }).catchUp(clock.now())).toBe(3);
    for (const end of [TO - 2 * WEEK, TO - WEEK, TO]) expect((await rowOf(end - WEEK, end)).postedAt).toBeNull();
    expect(await reportsFor('replica-on').retryPosts()).toBe(3);
    const rows = (await tdb.db.orm.select().from(reportPeriods)).filter((r) => r.periodEnd.getTime() > TO - 3 * WEEK);
    expect(rows.every((r) => r.postedAt !== null)).toBe(true);
    const expected = rows.flatMap((r) => renderSlack(r.report as Rendered).map((m) => m.text));
    expect(slack.messages.slice(since).filter((m) => m.channel === 'C-REPORTS').map((m) => m.text).sort()).toEqual(expected.sort());
  }, 120_000);

  it('a GET at the cron minute (the default period, the 7 days up to now, is exactly the week) does not steal the week from the schedule', async () => {
    const since = await fresh(TO);
    // GET /v1/reports at 09:00:00.000: period (now − 7 d, now], stored as a person's report.
    const read = await reportsFor('replica-b').produce(new Date(FROM), new Date(TO), 'on_demand');
    expect(read.computed).toBe(true);
    expect(slack.messages.length).toBe(since);
    clock.set(TO + 1_000);
    await reportsFor('replica-a').scheduled(new Date(TO));
    await expectPostedOnce(since);
    // The person's report is the one posted and served: the read changed nothing but who computed it.
    expect((await rowOf(FROM, TO)).report).toEqual(read.report);
    expect(await reportsFor('replica-c').retryPosts()).toBe(0);
  }, 120_000);

  it('a GET of the week still computing when the cron fires: the schedule waits for it, then posts the stored week', async () => {
    const since = await fresh(TO);
    let resume!: () => void;
    const paused = new Promise<void>((resolve) => (resume = resolve));
    const reading = reportsFor('replica-b', {
      slos: async () => {
        await paused;
        return SLOS;
      },
    }).produce(new Date(FROM), new Date(TO), 'on_demand');
    await waitFor('the GET claimed the week', async () => (await tdb.db.orm.select().from(reportPeriods)).length > 0);
    clock.set(TO + 1_000);
    const cron = reportsFor('replica-a').scheduled(new Date(TO));
    await new Promise((r) => setTimeout(r, 500));
    resume();
    await Promise.all([reading, cron]);
    await expectPostedOnce(since);
  }, 120_000);

  it('a --post of the week from a replica without Slack at the cron minute posts nothing and marks nothing: the schedule still posts it', async () => {
    const since = await fresh(TO);
    await reportsFor('replica-off', { chat: () => noChat }).produce(new Date(FROM), new Date(TO), 'on_demand', true);
    expect((await rowOf(FROM, TO)).postedAt).toBeNull();
    clock.set(TO + 1_000);
    await reportsFor('replica-a').scheduled(new Date(TO));
    await expectPostedOnce(since);
  }, 120_000);

  it('a --post of the week from a replica with Slack at the cron minute: the schedule counts it posted, no second copy', async () => {
    const since = await fresh(TO);
    await reportsFor('replica-b').produce(new Date(FROM), new Date(TO), 'on_demand', true);
    clock.set(TO + 1_000);
    await reportsFor('replica-a').scheduled(new Date(TO));
    expect(await reportsFor('replica-a').retryPosts()).toBe(0);
    await expectPostedOnce(since);
  }, 120_000);

  it('replicas an hour apart (one behind, one ahead): the posting lease goes by the database’s clock, so neither posts beside a live poster', async () => {
    // Times near the real clock: the database's now() is the real one.
    const to = Math.floor((Date.now() - 2 * H) / 60_000) * 60_000;
    tdb = await freshDatabase(kind);
    const since = slack.messages.length;
    const behind = new ManualClock(Date.now() - H);
    const ahead = new ManualClock(Date.now() + H);
    let release!: () => void;
    const hung = new Promise<void>((resolve) => (release = resolve));
    let reportChannelPosts = 0;
    slack.holdWhen('chat.postMessage', (args) => (args.channel === 'C-REPORTS' && ++reportChannelPosts === 2 ? hung : undefined));
    // The replica behind posts the week; Slack holds its first reply (the lease is still live).
    const cron = reportsFor('replica-behind', { clock: behind, leaseClock: 'database' }).scheduled(new Date(to));
    await waitFor('the first reply in flight', async () => reportChannelPosts >= 2, 30_000);
    // By the one ahead's clock the lease granted by the one behind ran out long ago.
    const retried = await reportsFor('replica-ahead', { clock: ahead, leaseClock: 'database' }).retryPosts();
    release();
    await cron;
    expect(retried).toBe(0);
    await expectPostedOnce(since, to - WEEK, to);
  }, 120_000);
});
