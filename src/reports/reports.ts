import type { Logger } from '../telemetry/logger.js';
import type { ChatPort } from '../chat/port.js';
import type { Clock } from '../core/clock.js';
import { QuenchError } from '../core/errors.js';
import type { Database } from '../db/database.js';
import type { ReportSlo } from './core/facts.js';
import { computeReport, type Report } from './core/model.js';
import { renderSlack, type SlackMessage } from './core/render-slack.js';
import { readReportFacts } from './facts.js';
import { claimPeriod, lastScheduledEnd, markPosted, saveReport } from './store.js';

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
  constructor(private readonly deps: ReportsDeps) {}

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
      const claim = await claimPeriod(db, from, to, this.deps.who, origin, now);
      if (claim.kind === 'stored') {
        if (post) await this.post(claim.report);
        return { report: claim.report, computed: false };
      }
      if (claim.kind === 'claimed') {
        const report = await this.#compute(from, to);
        await saveReport(db, from, to, report, clock.now());
        if (post || origin === 'scheduled') {
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

  /** Weeks after the last scheduled report that ended while the service was down, up to `until`. */
  async catchUp(until: Date): Promise<number> {
    const last = await lastScheduledEnd(this.deps.db);
    if (!last) return 0;
    let produced = 0;
    let end = last.getTime() + WEEK_MS;
    const lastDue = Math.min(until.getTime(), this.deps.clock.now().getTime());
    const missed = Math.floor((lastDue - last.getTime()) / WEEK_MS);
    if (missed > MAX_CATCH_UP) end = last.getTime() + (missed - MAX_CATCH_UP + 1) * WEEK_MS;
    for (; end <= lastDue; end += WEEK_MS) {
      if (end === until.getTime()) break;
      await this.produce(new Date(end - WEEK_MS), new Date(end), 'scheduled');
      produced++;
    }
    return produced;
  }

  async #compute(from: Date, to: Date): Promise<Report> {
    await this.deps.audit.flush();
    const facts = await readReportFacts(this.deps.db, await this.deps.slos(), from, to);
    return computeReport(facts, this.deps.clock.now().getTime());
  }

  /** To QUENCH_REPORT_CHANNEL (everything) and to each owning team's channel (its services). */
  async post(report: Report): Promise<void> {
    const chat = this.deps.chat();
    if (!chat.enabled) return;
    const slos = await this.deps.slos();
    // A report channel that fails (a reply refused, the app not in the channel) must not keep the
    // owning teams from theirs: its failure is thrown once every channel was tried.
    let failure: { err: unknown } | undefined;
    if (this.deps.channel) {
      await postThread(chat, this.deps.channel, renderSlack(report)).catch((err: unknown) => {
        failure = { err };
      });
    }
    const byChannel = new Map<string, Set<string>>();
    for (const s of slos) if (s.ownerChannel && s.ownerChannel !== this.deps.channel) byChannel.set(s.ownerChannel, (byChannel.get(s.ownerChannel) ?? new Set()).add(s.service));
    for (const [channel, services] of byChannel) {
      await postThread(chat, channel, renderSlack(report, services)).catch((err) => this.deps.logger.error({ err, channel }, 'posting the report to an owner channel failed'));
    }
    if (failure) throw failure.err;
  }
}

/**
 * The first message to the channel, the others as replies in its thread, in order. A reply that
 * fails does not stop the ones after it (each carries other SLOs); the first failure is thrown
 * once all were tried, so the caller logs an incomplete report.
 */
async function postThread(chat: ChatPort, channel: string, messages: SlackMessage[]): Promise<void> {
  const [first, ...replies] = messages;
  if (!first) return;
  const ref = await chat.post(channel, first);
  let failure: unknown;
  for (const reply of replies) {
    await chat.post(ref?.channel ?? channel, reply, ref?.ts).catch((err: unknown) => {
      failure ??= err;
    });
  }
  if (failure !== undefined) throw failure;
}
