import type { Logger } from '../telemetry/logger.js';
import type { ChatPort } from '../chat/port.js';
import type { Clock } from '../core/clock.js';
import { messageOf, QuenchError } from '../core/errors.js';
import type { Database } from '../db/database.js';
import type { ReportSlo } from './core/facts.js';
import { computeReport, type Report } from './core/model.js';
import { postingOf } from './core/posting-plan.js';
import { renderSlack } from './core/render-slack.js';
import { readReportFacts } from './facts.js';
import { holdPostingLease } from './posting-lease.js';
import { planChannels, type PostingHold, PostingLeaseLost, type PostProgress, postThread, type Share } from './posting.js';
import {
  adoptStored,
  type Claim,
  claimPeriod,
  type DuePost,
  lastScheduledEnd,
  type LeaseClock,
  leaseDuePost,
  leasePost,
  markPosted,
  postFailed,
  postingLease,
  releasePostLease,
  saveReport,
} from './store.js';

export const WEEK_MS = 7 * 24 * 3600_000;
/** How many missed weekly periods are produced after a long outage (older ones are skipped). */
const MAX_CATCH_UP = 8;

export interface ReportsDeps {
  db: Database;
  clock: Clock;
  logger: Logger;
  /** The trail's entries are chained after commit; a report reads the chain, so it flushes first. */
  audit: { flush(): Promise<void> };
  slos: () => Promise<ReportSlo[]> | ReportSlo[];
  chat: () => ChatPort;
  channel: string | undefined;
  /** Who claims (replica id). */
  who: string;
  /** How often a poster renews its posting lease (tests shorten it); POST_LEASE_RENEW_MS. */
  leaseRenewMs?: number;
  /** Which clock claims and posting leases go by (store.ts): `database` unless a test moves time by hand. */
  leaseClock?: LeaseClock;
}

export interface Produced {
  report: Report;
  /** True when this call computed and stored it; false when the stored one was served. */
  computed: boolean;
}

/**
 * Produces the report of a period exactly once: a finished period is claimed, computed, stored
 * and then always served from storage; a period not yet over is computed live and not stored.
 */
export class Reports {
  #stopping = false;
  readonly #leaseClock: LeaseClock;

  constructor(private readonly deps: ReportsDeps) {
    this.#leaseClock = deps.leaseClock ?? 'database';
  }

  async produce(from: Date, to: Date, origin: 'scheduled' | 'on_demand', post = false): Promise<Produced> {
    if (!(from.getTime() < to.getTime())) throw new QuenchError('bad_request', `the report period must end after it starts (from ${from.toISOString()}, to ${to.toISOString()})`);
    const { db, clock } = this.deps;
    const now = clock.now();
    if (to.getTime() > now.getTime()) {
      const report = await this.#compute(from, to);
      if (post) await this.post(report);
      return { report, computed: true };
    }
    for (let tries = 0; ; tries++) {
      const claim = await claimPeriod(db, from, to, this.deps.who, origin, now, this.#leaseClock);
      if (claim.kind === 'stored') {
        // A person stored the schedule's week first (a GET at the cron minute): still the schedule's to post.
        if (origin === 'scheduled' && claim.origin !== 'scheduled') await this.#adopt(from, to);
        else if (post) await this.#postStored(from, to, claim);
        return { report: claim.report, computed: false };
      }
      if (claim.kind === 'claimed') {
        const report = await this.#compute(from, to);
        const posting = postingOf({ rowOrigin: claim.origin, origin, post, canPost: this.deps.chat().enabled });
        const lease = posting.kind === 'scheduled' || posting.kind === 'pending' ? { by: postingLease(this.deps.who), held: posting.kind === 'scheduled' } : undefined;
        // This claim went stale and another claimant stored and posts the report: serve that.
        if (!(await saveReport(db, from, to, report, clock.now(), this.#leaseClock, lease))) continue;
        if (posting.kind === 'scheduled') {
          const failure = await this.#postScheduled({ from, to, lease: lease!.by, report, progress: {}, tries: 0 });
          if (failure !== undefined && posting.raise) throw slackUnavailable(failure);
        } else if (posting.kind === 'once') {
          await this.post(report);
          await markPosted(db, from, to, clock.now());
        }
        return { report, computed: true };
      }
      // Another replica is computing this period right now: wait for its stored report.
      if (tries >= 50) throw new QuenchError('conflict', 'another replica is still computing this report; try again in a minute');
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** The scheduled firing at `at`: the week ending at that minute, then any missed weeks before it. */
  async scheduled(at: Date): Promise<void> {
    const end = new Date(Math.floor(at.getTime() / 60_000) * 60_000);
    await this.catchUp(end);
    await this.produce(new Date(end.getTime() - WEEK_MS), end, 'scheduled');
  }

  /**
   * Weeks after the last scheduled report that ended while the service was down, up to `until`,
   * oldest first, with progress logged (at start it runs in the background: capability.ts). A
   * week that fails is logged and the next one tried; stop() ends it before its next week.
   */
  async catchUp(until: Date): Promise<number> {
    const { logger } = this.deps;
    const last = await lastScheduledEnd(this.deps.db);
    if (!last) return 0;
    const ends: number[] = [];
    let end = last.getTime() + WEEK_MS;
    const lastDue = Math.min(until.getTime(), this.deps.clock.now().getTime());
    const missed = Math.floor((lastDue - last.getTime()) / WEEK_MS);
    if (missed > MAX_CATCH_UP) end = last.getTime() + (missed - MAX_CATCH_UP + 1) * WEEK_MS;
    for (; end <= lastDue && end !== until.getTime(); end += WEEK_MS) ends.push(end);
    if (ends.length === 0) return 0;
    logger.info({ weeks: ends.length, since: last }, `catching up on ${ends.length} missed weekly SLO report(s)`);
    let produced = 0;
    for (const [i, at] of ends.entries()) {
      const week = { from: new Date(at - WEEK_MS), to: new Date(at) };
      if (this.#stopping) {
        logger.info({ done: i, of: ends.length }, 'catching up on missed SLO reports stopped: the service is stopping; the next start resumes it');
        break;
      }
      try {
        await this.produce(week.from, week.to, 'scheduled');
        produced++;
        logger.info({ ...week, done: i + 1, of: ends.length }, `caught up the SLO report of a missed week (${i + 1} of ${ends.length})`);
      } catch (err) {
        logger.error({ err, ...week, done: i + 1, of: ends.length }, 'catching up on a missed SLO report failed; going on with the next week');
      }
    }
    return produced;
  }

  async #compute(from: Date, to: Date): Promise<Report> {
    await this.deps.audit.flush();
    const facts = await readReportFacts(this.deps.db, await this.deps.slos(), from, to);
    return computeReport(facts, this.deps.clock.now().getTime());
  }

  /**
   * Posts the scheduled reports whose posting failed or whose poster died, once their back-off
   * is over, each resumed where it stopped (posting.ts). Returns how many were wholly posted.
   */
  async retryPosts(): Promise<number> {
    // Slack off (on this replica, or since the first try): a report begun must not be marked
    // posted with messages missing; it waits for a replica with Slack, until its give-up.
    if (!this.deps.chat().enabled) return 0;
    let posted = 0;
    while (!this.#stopping) {
      const due = await leaseDuePost(this.deps.db, postingLease(this.deps.who), this.deps.clock.now(), this.#leaseClock);
      if (!due) return posted;
      if ((await this.#postScheduled(due)) === undefined) posted++;
    }
    return posted;
  }

  /**
   * The service stops: a posting in progress ends after the Slack call in flight, with its
   * progress saved and its lease let go, and no further period is taken up, so stop() waits for
   * one message at most, not for every pending report (after an outage, weeks of them).
   */
  stop(): void {
    this.#stopping = true;
  }

  /**
   * `--post` of a stored period. A scheduled report whose posting is pending is resumed (its
   * missing messages only, under the posting lease), so the person's post and the retry never
   * both post it; any other is posted again in full, as asked.
   */
  async #postStored(from: Date, to: Date, claim: Extract<Claim, { kind: 'stored' }>): Promise<void> {
    if (claim.postedAt !== null || claim.origin !== 'scheduled') return this.post(claim.report);
    if (!this.deps.chat().enabled) return; // as post(): nothing to post to, and the posting stays pending
    const due = await leasePost(this.deps.db, from, to, postingLease(this.deps.who), this.deps.clock.now(), this.#leaseClock);
    if (!due) throw new QuenchError('conflict', 'this scheduled report is being posted right now (by another replica, or its first try): try again in a few minutes');
    const failure = await this.#postScheduled(due);
    if (failure !== undefined) throw slackUnavailable(failure);
  }

  /**
   * The schedule's week that a person stored first (their claim was on_demand): made the
   * schedule's (adoptStored) and posted under its lease, or left pending for a replica with Slack.
   */
  async #adopt(from: Date, to: Date): Promise<void> {
    const canPost = this.deps.chat().enabled;
    const lease = postingLease(this.deps.who);
    const adopted = await adoptStored(this.deps.db, from, to, { by: lease, held: canPost }, this.deps.clock.now(), this.#leaseClock);
    if (!adopted || adopted.postedAt !== null || !canPost) return;
    await this.#postScheduled({ from, to, lease, report: adopted.report, progress: {}, tries: 0 });
  }

  /**
   * One posting try of a scheduled report, under this replica's lease: every channel's missing
   * messages. Any message that failed (an owner channel's too) leaves the report unposted, to be
   * tried again after a back-off, from where it stopped. Undefined when it is wholly posted,
   * else why not.
   */
  async #postScheduled(due: DuePost): Promise<string | undefined> {
    const { db, clock, logger } = this.deps;
    if (!this.deps.chat().enabled) {
      // Slack went off under it: nothing posted must never read as posted; a replica with Slack resumes it.
      await releasePostLease(db, due.from, due.to, due.lease, due.progress);
      return 'Slack is off on this replica';
    }
    const hold = holdPostingLease({ ...this.deps, leaseClock: this.#leaseClock }, due, { renewMs: this.deps.leaseRenewMs, stopping: () => this.#stopping });
    const failures = await this.#postAll(due.report, due.progress, hold)
      .catch((err: unknown) => {
        if (err instanceof PostingLeaseLost) return undefined;
        throw err;
      })
      .finally(() => hold.release());
    if (!failures && hold.lost) {
      logger.warn({ from: due.from, to: due.to }, 'stopped posting the SLO report: another replica took it over');
      return 'another replica took the posting over';
    }
    if (!failures) {
      // Stopping: what reached Slack is saved; the lease is let go so another replica (or the
      // next start) resumes at once rather than after the lease.
      await releasePostLease(db, due.from, due.to, due.lease, due.progress);
      logger.info({ from: due.from, to: due.to }, 'stopped posting the SLO report: the service is stopping; another replica resumes it');
      return 'the service is stopping';
    }
    if (failures.length === 0) {
      await markPosted(db, due.from, due.to, clock.now(), due.lease);
      return undefined;
    }
    const tries = due.tries + 1;
    const message = failures.map((f) => `${f.channel}: ${messageOf(f.err)}`).join('; ');
    await postFailed(db, due.from, due.to, due.lease, clock.now(), tries, message, due.progress);
    logger.error({ from: due.from, to: due.to, tries, failures: message }, 'posting the SLO report to Slack failed; trying again later from where it stopped');
    return message;
  }

  /**
   * To QUENCH_REPORT_CHANNEL (everything) and to each owning team's channel (its services), on
   * demand. A report channel that fails (a reply refused, the app not in the channel) must not
   * keep the owning teams from theirs: its failure is thrown once every channel was tried; an
   * owner channel's failure is logged.
   */
  async post(report: Report): Promise<void> {
    const failures = await this.#postAll(report, {}, { save: async () => true, held: () => true });
    for (const f of failures) if (f.channel !== this.deps.channel) this.deps.logger.error({ err: f.err, channel: f.channel }, 'posting the report to an owner channel failed');
    const own = failures.find((f) => f.channel === this.deps.channel);
    if (own) throw new QuenchError('slack_unavailable', `posting the report to ${own.channel} failed: ${messageOf(own.err)}`, { cause: own.err });
  }

  /** Every channel tried, each resumed from `progress`; the channels that failed, and why. */
  async #postAll(report: Report, progress: PostProgress, hold: PostingHold): Promise<Array<{ channel: string; err: unknown }>> {
    const chat = this.deps.chat();
    if (!chat.enabled) return [];
    const current = new Map<string, Share>();
    if (this.deps.channel) current.set(this.deps.channel, 'all');
    const owned = new Map<string, Set<string>>();
    for (const s of await this.deps.slos()) if (s.ownerChannel && s.ownerChannel !== this.deps.channel) owned.set(s.ownerChannel, (owned.get(s.ownerChannel) ?? new Set()).add(s.service));
    for (const [channel, services] of owned) current.set(channel, services);
    const failures: Array<{ channel: string; err: unknown }> = [];
    for (const [channel, share] of planChannels(current, progress)) {
      const messages = renderSlack(report, share === 'all' ? undefined : share);
      await postThread(chat, channel, messages, progress[channel]!, hold).catch((err: unknown) => {
        if (err instanceof PostingLeaseLost) throw err;
        failures.push({ channel, err });
      });
    }
    return failures;
  }
}

/** A person's post of a scheduled report that Slack refused: the posting stays pending. */
const slackUnavailable = (failure: string) => new QuenchError('slack_unavailable', `posting the report to Slack failed (${failure}); it will be tried again from where it stopped`);
