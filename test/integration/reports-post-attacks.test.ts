import { webApi } from '@slack/bolt';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAuditTrail } from '../../src/audit/trail.js';
import { type ChatPort, noChat } from '../../src/chat/port.js';
import { slackChat } from '../../src/chat/slack/web.js';
import { ManualClock } from '../../src/core/clock.js';
import type { ReportSlo } from '../../src/reports/core/facts.js';
import { renderSlack } from '../../src/reports/core/render-slack.js';
import { Reports } from '../../src/reports/reports.js';
import { reportPeriods } from '../../src/reports/schema.js';
import { claimPeriod, POST_LEASE_MS, saveReport, STALE_CLAIM_MS } from '../../src/reports/store.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';
import { type FakeSlack, startFakeSlack } from '../support/fake-slack.js';
import { longNamedSlo, reportThreads } from '../support/report-threads.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Attacks on the resumable posting of scheduled reports (reports-post-retry.test.ts holds the
 * plain cases): a Slack call that hangs past the posting lease, a catch-up after an outage of
 * weeks, the SLO catalog changing between tries, a database blip right after Slack accepted a
 * message, Slack switched off between tries, a row written by a replica that predates the
 * posting lease, the service stopping mid-post, a claimant that outlived its stale claim, a
 * schedule's stale claim finished by a GET. Each time: every message once in its channel's
 * thread, none twice.
 */
const H = 3600_000;
const WEEK = 7 * 24 * H;
const TO = Date.parse('2026-11-30T09:00:00Z');
const FROM = TO - WEEK;
// Long names make several messages per channel (a thread), as a large catalog does.
const CATALOG: ReportSlo[] = Array.from({ length: 200 }, (_, i) => (i < 100 ? longNamedSlo(i, 'team-a', 'C-OWN') : longNamedSlo(i, 'team-b')));
type Rendered = Parameters<typeof renderSlack>[0];

describe.each(databaseKinds)('attacks on posting a scheduled report, on %s', (kind) => {
  let tdb: TestDatabase;
  let slack: FakeSlack;
  const clock = new ManualClock(TO + 1_000);
  let slos = CATALOG;
  let chatOn = true;

  beforeAll(async () => {
    slack = await startFakeSlack();
  });
  afterAll(async () => {
    await slack?.close();
  });
  afterEach(async () => {
    slack.failWhen('chat.postMessage', undefined);
    slack.holdWhen('chat.postMessage', undefined);
    slos = CATALOG;
    chatOn = true;
    await tdb?.dispose();
  });

  const chat = (): ChatPort => (chatOn ? slackChat(new webApi.WebClient('xoxb-test-token', { slackApiUrl: `${slack.url}/`, retryConfig: { retries: 0 } })) : noChat);
  const reportsFor = (who: string, options: { leaseRenewMs?: number } = {}) =>
    new Reports({ db: tdb.db, clock, logger: silentLogger, audit: createAuditTrail(tdb.db, clock), slos: () => slos, chat, channel: 'C-REPORTS', who, leaseClock: 'injected', ...options });
  const rowOf = async (from: number, to: number) => (await tdb.db.orm.select().from(reportPeriods).where(and(eq(reportPeriods.periodStart, new Date(from)), eq(reportPeriods.periodEnd, new Date(to)))))[0]!;
  const row = () => rowOf(FROM, TO);
  const { inChannel, expectThread } = reportThreads(() => slack);

  async function fresh() {
    tdb = await freshDatabase(kind);
    clock.set(TO + 1_000);
    return slack.messages.length;
  }

  it('a Slack call that hangs past the posting lease: the poster keeps its lease, so no retry (its own replica’s or another’s) posts beside it', async () => {
    const since = await fresh();
    let release!: () => void;
    const hung = new Promise<void>((resolve) => (release = resolve));
    let reportChannelPosts = 0;
    slack.holdWhen('chat.postMessage', (args) => (args.channel === 'C-REPORTS' && ++reportChannelPosts === 2 ? hung : undefined));
    const cron = reportsFor('replica-a', { leaseRenewMs: 20 }).scheduled(new Date(TO));
    await waitFor('the first reply in flight', async () => reportChannelPosts >= 2);
    // Six minutes pass while Slack holds the reply; the poster is alive and renewing its lease.
    clock.set(TO + 1_000 + POST_LEASE_MS + 60_000);
    await new Promise((r) => setTimeout(r, 300));
    const retried = await Promise.all([reportsFor('replica-a').retryPosts(), reportsFor('replica-b').retryPosts()]);
    release();
    await cron;
    expect(retried).toEqual([0, 0]);
    const report = (await row()).report as Rendered;
    expectThread('C-REPORTS', since, renderSlack(report));
    expectThread('C-OWN', since, renderSlack(report, new Set(['team-a'])));
    expect((await row()).postedAt).not.toBeNull();
  }, 120_000);
  it('a catch-up after weeks down, Slack refusing at that moment: each missed week is still retried for a day after it was produced, not given up at once', async () => {
    await fresh();
    clock.set(TO - 3 * WEEK + 1_000);
    await reportsFor('replica-a').scheduled(new Date(TO - 3 * WEEK));
    expect((await rowOf(TO - 4 * WEEK, TO - 3 * WEEK)).postedAt).not.toBeNull();
    // Down for three weeks; at the restart Slack refuses too.
    slack.failWhen('chat.postMessage', () => 'fatal_error');
    clock.set(TO + 2 * 24 * H);
    expect(await reportsFor('replica-a').catchUp(clock.now())).toBe(3);
    slack.failWhen('chat.postMessage', undefined);
    clock.set(TO + 2 * 24 * H + 60_000);
    expect(await reportsFor('replica-b').retryPosts()).toBe(3);
    for (const end of [TO - 2 * WEEK, TO - WEEK, TO]) expect((await rowOf(end - WEEK, end)).postedAt).not.toBeNull();
  }, 120_000);

  it('the SLO catalog changes between tries: a channel a message reached keeps the split it was posted with (moved services, a channel removed), each SLO once', async () => {
    const since = await fresh();
    slos = CATALOG.map((s, i) => ({ ...s, ownerChannel: i < 100 ? 'C-OWN' : 'C-GONE' }));
    const posts = new Map<string, number>();
    // Each owner channel refuses its first reply: it holds a thread with a gap.
    slack.failWhen('chat.postMessage', (args) => {
      const channel = String(args.channel);
      posts.set(channel, (posts.get(channel) ?? 0) + 1);
      return channel !== 'C-REPORTS' && posts.get(channel) === 2 ? 'fatal_error' : undefined;
    });
    await reportsFor('replica-a').scheduled(new Date(TO));
    const report = (await row()).report as Rendered;
    expect(renderSlack(report, new Set(['team-a'])).length).toBeGreaterThan(2);
    expect((await row()).postedAt).toBeNull();
    // Team b moves to C-OWN; C-GONE owns nothing any more.
    slos = CATALOG.map((s) => ({ ...s, ownerChannel: 'C-OWN' }));
    slack.failWhen('chat.postMessage', undefined);
    clock.set(TO + 1_000 + 60_000);
    expect(await reportsFor('replica-b').retryPosts()).toBe(1);
    expectThread('C-REPORTS', since, renderSlack(report));
    expectThread('C-OWN', since, renderSlack(report, new Set(['team-a'])));
    expectThread('C-GONE', since, renderSlack(report, new Set(['team-b'])));
  }, 120_000);

  it('a database blip right after Slack accepted a message: its progress is saved with the failed try, so the retry does not post it again', async () => {
    const since = await fresh();
    // The save that records C-OWN's first message fails once (a lost connection), after Slack took it.
    await tdb.db.orm.execute(sql.raw('create sequence attack_blip'));
    await tdb.db.orm.execute(
      sql.raw(`create function attack_blip() returns trigger language plpgsql as $$
      begin
        if coalesce(jsonb_array_length(new.post_progress->'C-OWN'->'sent'), 0) = 1
           and coalesce(jsonb_array_length(old.post_progress->'C-OWN'->'sent'), 0) = 0
           and nextval('attack_blip') = 1 then
          raise exception 'connection lost (attack)';
        end if;
        return new;
      end $$`),
    );
    await tdb.db.orm.execute(sql.raw('create trigger attack_blip before update on report_periods for each row execute function attack_blip()'));
    await reportsFor('replica-a').scheduled(new Date(TO));
    const r = await row();
    expect(r.postedAt).toBeNull();
    expect(r.postError).toMatch(/^C-OWN: saving what reached Slack failed \(connection lost \(attack\)\)/);
    clock.set(TO + 1_000 + 60_000);
    expect(await reportsFor('replica-b').retryPosts()).toBe(1);
    const report = r.report as Rendered;
    expectThread('C-REPORTS', since, renderSlack(report));
    expectThread('C-OWN', since, renderSlack(report, new Set(['team-a'])));
  }, 120_000);

  it('Slack switched off between tries: the unfinished report is not marked posted, and is finished once Slack is back', async () => {
    const since = await fresh();
    let reportChannelPosts = 0;
    slack.failWhen('chat.postMessage', (args) => (args.channel === 'C-REPORTS' && ++reportChannelPosts === 2 ? 'fatal_error' : undefined));
    await reportsFor('replica-a').scheduled(new Date(TO));
    slack.failWhen('chat.postMessage', undefined);
    chatOn = false;
    clock.set(TO + 1_000 + 60_000);
    expect(await reportsFor('replica-b').retryPosts()).toBe(0);
    await reportsFor('replica-b').produce(new Date(FROM), new Date(TO), 'on_demand', true);
    expect((await row()).postedAt).toBeNull();
    chatOn = true;
    expect(await reportsFor('replica-b').retryPosts()).toBe(1);
    const report = (await row()).report as Rendered;
    expectThread('C-REPORTS', since, renderSlack(report));
    expectThread('C-OWN', since, renderSlack(report, new Set(['team-a'])));
  }, 120_000);

  it('a report stored by a replica that predates the posting lease (a rolling deploy, a row from before migration 0022): no retry posts beside it', async () => {
    const since = await fresh();
    // What such a replica writes: the claim, then the report with no lease, then it posts it itself.
    expect((await claimPeriod(tdb.db, new Date(FROM), new Date(TO), 'replica-old', 'scheduled', clock.now(), 'injected')).kind).toBe('claimed');
    const report = (await reportsFor('replica-b').produce(new Date(FROM), new Date(TO + WEEK), 'on_demand')).report;
    await saveReport(tdb.db, new Date(FROM), new Date(TO), report, clock.now(), 'injected');
    clock.set(TO + 1_000 + POST_LEASE_MS + 60_000);
    expect(await reportsFor('replica-b').retryPosts()).toBe(0);
    expect(slack.messages.length).toBe(since);
    // A person may still post it.
    await reportsFor('replica-b').produce(new Date(FROM), new Date(TO), 'on_demand', true);
    expectThread('C-REPORTS', since, renderSlack(report));
  }, 120_000);
  it('the service stops while a retry posts: the try ends after its Slack call in flight, its lease let go and no other period taken up; another replica finishes both at once', async () => {
    const since = await fresh();
    slack.failWhen('chat.postMessage', () => 'fatal_error');
    const a = reportsFor('replica-a');
    await a.produce(new Date(FROM - WEEK), new Date(FROM), 'scheduled');
    await a.scheduled(new Date(TO));
    slack.failWhen('chat.postMessage', undefined);
    let release!: () => void;
    const hung = new Promise<void>((resolve) => (release = resolve));
    let posts = 0;
    slack.holdWhen('chat.postMessage', () => (++posts === 2 ? hung : undefined));
    clock.set(TO + 1_000 + 60_000);
    const retrying = a.retryPosts();
    await waitFor('a reply in flight', async () => posts >= 2);
    a.stop();
    release();
    expect(await retrying).toBe(0);
    const older = await rowOf(FROM - WEEK, FROM);
    expect(older.postLeaseUntil).toBeNull();
    expect(older.postProgress).toMatchObject({ 'C-REPORTS': { sent: [0, 1] } });
    expect((await row()).postTries).toBe(1);
    // Another replica resumes both without waiting for a lease to run out.
    expect(await reportsFor('replica-b').retryPosts()).toBe(2);
    const expected = [older, await row()].flatMap((r) => renderSlack(r.report as Rendered).map((m) => m.text));
    expect(inChannel('C-REPORTS', since).map((m) => m.text).sort()).toEqual(expected.sort());
  }, 120_000);
  it('a claimant that outlived its claim (stale, taken over) and stores nothing does not post beside the one that stored the report', async () => {
    const since = await fresh();
    let resume!: () => void;
    const paused = new Promise<void>((resolve) => (resume = resolve));
    let first = true;
    // Replica a claims the week, then stalls while computing (a long GC, a frozen VM).
    const slow = new Reports({
      db: tdb.db,
      clock,
      logger: silentLogger,
      audit: createAuditTrail(tdb.db, clock),
      slos: async () => {
        if (first) await paused;
        first = false;
        return slos;
      },
      chat,
      channel: 'C-REPORTS',
      who: 'replica-a',
      leaseClock: 'injected',
    });
    const stalled = slow.produce(new Date(FROM), new Date(TO), 'scheduled');
    await waitFor('replica a claimed', async () => (await tdb.db.orm.select().from(reportPeriods)).length > 0);
    clock.set(TO + 1_000 + STALE_CLAIM_MS + 60_000);
    await reportsFor('replica-b').produce(new Date(FROM), new Date(TO), 'scheduled');
    const report = (await row()).report as Rendered;
    resume();
    await stalled;
    expectThread('C-REPORTS', since, renderSlack(report));
    expectThread('C-OWN', since, renderSlack(report, new Set(['team-a'])));
  }, 120_000);
  it('the schedule’s claimant died while computing and a person’s GET finished the week: it is still posted, by the retry, once', async () => {
    const since = await fresh();
    expect((await claimPeriod(tdb.db, new Date(FROM), new Date(TO), 'replica-dead', 'scheduled', clock.now(), 'injected')).kind).toBe('claimed');
    clock.set(TO + 1_000 + STALE_CLAIM_MS + 60_000);
    // GET /v1/reports of that week takes the stale claim over: no Slack call inside a GET.
    expect((await reportsFor('replica-b').produce(new Date(FROM), new Date(TO), 'on_demand')).computed).toBe(true);
    expect(slack.messages.length).toBe(since);
    expect(await reportsFor('replica-c').retryPosts()).toBe(1);
    const report = (await row()).report as Rendered;
    expectThread('C-REPORTS', since, renderSlack(report));
    expectThread('C-OWN', since, renderSlack(report, new Set(['team-a'])));
  }, 120_000);
  it('eight weeks caught up with Slack down: each retry round tries every due week once and ends, the cron’s week beside it is posted, and all are posted once Slack is back', async () => {
    await fresh();
    slos = CATALOG.slice(0, 20);
    clock.set(TO - 8 * WEEK + 1_000);
    await reportsFor('replica-a').scheduled(new Date(TO - 8 * WEEK));
    const since = slack.messages.length;
    slack.failWhen('chat.postMessage', () => 'fatal_error');
    clock.set(TO + 3 * H);
    expect(await reportsFor('replica-a').catchUp(clock.now())).toBe(8);
    clock.set(TO + 3 * H + 60_000);
    const calls = slack.callsTo('chat.postMessage').length;
    expect(await reportsFor('replica-a').retryPosts()).toBe(0);
    // One refused first message per channel and week, then each week waits out its back-off.
    expect(slack.callsTo('chat.postMessage').length - calls).toBe(8 * 2);
    expect(await reportsFor('replica-a').retryPosts()).toBe(0);
    expect(slack.callsTo('chat.postMessage').length - calls).toBe(8 * 2);
    slack.failWhen('chat.postMessage', undefined);
    clock.set(TO + 5 * H);
    // A cron firing and the retry of the eight weeks, at once on two replicas.
    const [, posted] = await Promise.all([reportsFor('replica-a').scheduled(new Date(TO + 5 * H)), reportsFor('replica-b').retryPosts()]);
    expect(posted).toBe(8);
    const rows = (await tdb.db.orm.select().from(reportPeriods)).filter((r) => r.periodEnd.getTime() > TO - 8 * WEEK);
    expect(rows).toHaveLength(9);
    expect(rows.every((r) => r.postedAt !== null)).toBe(true);
    const expected = rows.flatMap((r) => renderSlack(r.report as Rendered).map((m) => m.text));
    expect(inChannel('C-REPORTS', since).map((m) => m.text).sort()).toEqual(expected.sort());
  }, 180_000);
});
