import { randomUUID } from 'node:crypto';
import { and, eq, isNotNull, isNull, lt, type SQL, sql } from 'drizzle-orm';
import type { PostProgress } from './posting.js';
import type { Database } from '../db/database.js';
import { epochMs, parsedJson } from '../db/rows.js';
import type { Report } from './core/model.js';
import { reportPeriods } from './schema.js';

/** A claim older than this with no report is taken over (its claimant died while computing). */
export const STALE_CLAIM_MS = 10 * 60_000;

/** The row of one period (its primary key). */
const period = (from: Date, to: Date) => and(eq(reportPeriods.periodStart, from), eq(reportPeriods.periodEnd, to));

/**
 * The clock claims and posting leases are granted and judged by. `database` (production):
 * PostgreSQL's `now()`, one clock for every replica, so a replica whose clock runs ahead never
 * takes over a live claim or posting, and one whose clock runs behind never grants a lease that
 * the others already see as run out (as the engine's `leaseClock`). `injected`: the Reports
 * clock, for tests that move time by hand. Back-off and the give-up horizon stay on the
 * injected clock (they are timers, not leases).
 */
export type LeaseClock = 'database' | 'injected';
const leaseTime = (clock: LeaseClock, now: Date): SQL => (clock === 'database' ? sql`now()` : sql`${now.toISOString()}::timestamptz`);
const after = (clock: LeaseClock, now: Date, ms: number): SQL => sql`${leaseTime(clock, now)} + ${ms} * interval '1 millisecond'`;

/** `claimed`: the row's origin, which a stale claim taken over keeps (a schedule's week stays scheduled). */
export type Claim = { kind: 'claimed'; origin: string } | { kind: 'stored'; report: Report; postedAt: Date | null; origin: string } | { kind: 'busy' };

/**
 * Claims the period: the first caller inserts its row (the primary key refuses the second), a
 * stale claim is taken over. Only the claimant computes, stores and posts the report. The
 * schedule taking over a person's stale claim makes the week scheduled: its posting is the
 * schedule's to do.
 */
export async function claimPeriod(db: Database, from: Date, to: Date, who: string, origin: string, now: Date, clock: LeaseClock): Promise<Claim> {
  const inserted = await db.orm
    .insert(reportPeriods)
    .values({ periodStart: from, periodEnd: to, origin, claimedBy: who, claimedAt: leaseTime(clock, now) })
    .onConflictDoNothing()
    .returning({ at: reportPeriods.claimedAt });
  if (inserted.length > 0) return { kind: 'claimed', origin };
  const [row] = await db.orm.select().from(reportPeriods).where(period(from, to));
  if (row?.report) return { kind: 'stored', report: row.report as Report, postedAt: row.postedAt, origin: row.origin };
  const taken = await db.orm
    .update(reportPeriods)
    .set({ claimedBy: who, claimedAt: leaseTime(clock, now), ...(origin === 'scheduled' ? { origin } : {}) })
    .where(and(period(from, to), isNull(reportPeriods.report), lt(reportPeriods.claimedAt, after(clock, now, -STALE_CLAIM_MS))))
    .returning({ origin: reportPeriods.origin });
  return taken[0] ? { kind: 'claimed', origin: taken[0].origin } : { kind: 'busy' };
}

/**
 * The schedule found its week stored by a person (`GET /v1/reports` or `quench report` of
 * exactly that period, say at the cron minute): the week becomes scheduled and its posting the
 * schedule's, leased to `lease` (held, or let go for `pending`: see saveReport) — a read never
 * takes a week's posting away. A week a person already posted (`--post` of that period, every
 * message in the report channel) is scheduled and counted as posted. Undefined when the row is
 * not a stored person's report (another schedule adopted it first).
 */
export async function adoptStored(
  db: Database,
  from: Date,
  to: Date,
  lease: { by: string; held: boolean },
  now: Date,
  clock: LeaseClock,
): Promise<{ report: Report; postedAt: Date | null } | undefined> {
  const pending = isNull(reportPeriods.postedAt);
  const [row] = await db.orm
    .update(reportPeriods)
    .set({
      origin: 'scheduled',
      postLeaseBy: sql`case when ${pending} then ${lease.by} end`,
      postLeaseUntil: lease.held ? sql`case when ${pending} then ${leaseUntil(clock, now)} end` : null,
    })
    .where(and(period(from, to), eq(reportPeriods.origin, 'on_demand'), isNotNull(reportPeriods.report)))
    .returning({ report: reportPeriods.report, postedAt: reportPeriods.postedAt });
  return row ? { report: row.report as Report, postedAt: row.postedAt } : undefined;
}

/**
 * Stores the computed report; false when another claimant stored it first (this one's claim
 * went stale and was taken over). `lease.by` (postingLease): the report is the schedule's to
 * post; `held`, the claimant posts it next and holds the posting lease from this same write, so
 * no retry (another replica's, or its own timer's) posts beside it; not held, it is stored
 * pending, its lease let go at once, for the next retry of a replica with Slack.
 */
export async function saveReport(db: Database, from: Date, to: Date, report: Report, now: Date, clock: LeaseClock, lease?: { by: string; held: boolean }): Promise<boolean> {
  const stored = await db.orm
    .update(reportPeriods)
    .set({ report, completedAt: now, ...(lease ? { postLeaseBy: lease.by, postLeaseUntil: lease.held ? leaseUntil(clock, now) : null } : {}) })
    .where(and(period(from, to), isNull(reportPeriods.report)))
    .returning({ at: reportPeriods.completedAt });
  return stored.length > 0;
}

/**
 * How long a poster not heard from (no progress saved, no renewal) keeps the report before
 * another may take it over: a live poster renews it every POST_LEASE_RENEW_MS, however long
 * Slack takes (the WebClient has no timeout, and waits out 429s).
 */
export const POST_LEASE_MS = 5 * 60_000;
export const POST_LEASE_RENEW_MS = 60_000;

/**
 * One posting try's lease holder: the replica id (for the operator) and a nonce, so a try that
 * outlived its lease is told so even when its own replica's retry took the report over.
 */
export const postingLease = (who: string) => `${who}/${randomUUID().slice(0, 8)}`;
/** A scheduled report not posted this long after it was stored is no longer tried (it stays served by GET /v1/reports). */
export const POST_GIVE_UP_MS = 24 * 3600_000;
/** Back-off between posting tries: 1, 2, 4 … minutes, at most 30. */
export const postBackOffMs = (tries: number) => Math.min(30, 2 ** Math.max(0, tries - 1)) * 60_000;

const leasedTo = (from: Date, to: Date, lease: string) => and(period(from, to), eq(reportPeriods.postLeaseBy, lease));
const leaseUntil = (clock: LeaseClock, now: Date) => after(clock, now, POST_LEASE_MS);

export interface DuePost {
  from: Date;
  to: Date;
  /** This try's lease (postingLease), held until it is released or runs out. */
  lease: string;
  report: Report;
  progress: PostProgress;
  tries: number;
}

/**
 * Leases the oldest scheduled report that is stored but not (wholly) posted, whose back-off is
 * over and whose lease is free or ran out (its poster died): one at a time, across replicas.
 * The give-up horizon counts from when the report was stored (its first try), not from its
 * period's end: a week caught up after an outage of weeks gets its day of retries too.
 */
export function leaseDuePost(db: Database, lease: string, now: Date, clock: LeaseClock): Promise<DuePost | undefined> {
  const at = sql`${now.toISOString()}::timestamptz`;
  const horizon = sql`${at} - ${POST_GIVE_UP_MS} * interval '1 millisecond'`;
  // A report never leased was stored by a replica that predates the posting lease (a rolling
  // deploy, a row from before migration 0022): that replica posts it itself, and no progress
  // of it was saved, so a retry would post a second copy beside or after it.
  const leasedOnce = sql`(post_lease_by is not null or post_tries > 0)`;
  return leaseWhere(db, lease, now, clock, sql`${leasedOnce} and coalesce(completed_at, period_end) > ${horizon} and (post_next_at is null or post_next_at <= ${at})`);
}

/**
 * Leases this period's scheduled posting for a person who asked to post it now (`--post`):
 * whatever its back-off or age; undefined when it is not a pending scheduled posting or
 * another poster holds it.
 */
export function leasePost(db: Database, from: Date, to: Date, lease: string, now: Date, clock: LeaseClock): Promise<DuePost | undefined> {
  return leaseWhere(db, lease, now, clock, sql`period_start = ${from.toISOString()}::timestamptz and period_end = ${to.toISOString()}::timestamptz`);
}

async function leaseWhere(db: Database, lease: string, now: Date, clock: LeaseClock, which: SQL): Promise<DuePost | undefined> {
  const [row] = await db.rows<{ period_start: number; period_end: number; report: unknown; post_progress: unknown; post_tries: number }>(sql`
    update report_periods p set post_lease_by = ${lease}, post_lease_until = ${leaseUntil(clock, now)}
    from (
      select period_start, period_end from report_periods
      where origin = 'scheduled' and report is not null and posted_at is null
        and (post_lease_until is null or post_lease_until < ${leaseTime(clock, now)}) and ${which}
      order by period_end limit 1
      for update skip locked
    ) due
    where p.period_start = due.period_start and p.period_end = due.period_end
    returning ${epochMs(sql`p.period_start`)} as period_start, ${epochMs(sql`p.period_end`)} as period_end, p.report, p.post_progress, p.post_tries`);
  if (!row) return undefined;
  return {
    from: new Date(Number(row.period_start)),
    to: new Date(Number(row.period_end)),
    lease,
    report: parsedJson<Report>(row.report),
    progress: parsedJson<PostProgress>(row.post_progress),
    tries: Number(row.post_tries),
  };
}

/** Saves what reached Slack so far, renewing the lease; false when `lease` is no longer held. */
export async function savePostProgress(db: Database, from: Date, to: Date, lease: string, progress: PostProgress, now: Date, clock: LeaseClock): Promise<boolean> {
  const rows = await db.orm.update(reportPeriods).set({ postProgress: progress, postLeaseUntil: leaseUntil(clock, now) }).where(leasedTo(from, to, lease)).returning({ by: reportPeriods.postLeaseBy });
  return rows.length > 0;
}

/** A live poster's heartbeat (POST_LEASE_RENEW_MS); false when `lease` is no longer held. */
export async function renewPostLease(db: Database, from: Date, to: Date, lease: string, now: Date, clock: LeaseClock): Promise<boolean> {
  const rows = await db.orm.update(reportPeriods).set({ postLeaseUntil: leaseUntil(clock, now) }).where(leasedTo(from, to, lease)).returning({ by: reportPeriods.postLeaseBy });
  return rows.length > 0;
}

/**
 * The poster stops (the service stops) before the report is wholly posted: its progress saved,
 * the lease let go but its holder kept (a lease once taken marks a report this version posts).
 */
export async function releasePostLease(db: Database, from: Date, to: Date, lease: string, progress: PostProgress): Promise<void> {
  await db.orm.update(reportPeriods).set({ postProgress: progress, postLeaseUntil: null }).where(leasedTo(from, to, lease));
}

/** Every message reached Slack: posted, the lease released. */
export async function markPosted(db: Database, from: Date, to: Date, now: Date, lease?: string): Promise<void> {
  await db.orm
    .update(reportPeriods)
    .set({ postedAt: now, postLeaseBy: null, postLeaseUntil: null, postNextAt: null, postError: null })
    .where(lease ? leasedTo(from, to, lease) : period(from, to));
}

/**
 * A posting try failed: counted, the next one backed off, the lease released. The progress is
 * saved again here: the failure may be the save of a message Slack had accepted (a database
 * blip), and the retry must not post that message a second time.
 */
export async function postFailed(db: Database, from: Date, to: Date, lease: string, now: Date, tries: number, error: string, progress: PostProgress): Promise<void> {
  await db.orm
    .update(reportPeriods)
    .set({ postProgress: progress, postTries: tries, postNextAt: new Date(now.getTime() + postBackOffMs(tries)), postError: error.slice(0, 2000), postLeaseBy: null, postLeaseUntil: null })
    .where(leasedTo(from, to, lease));
}

/** The latest scheduled period's end, for catching up on periods missed while down. */
export async function lastScheduledEnd(db: Database): Promise<Date | null> {
  const [row] = await db.orm
    .select({ end: sql<Date | string | null>`max(${reportPeriods.periodEnd})` })
    .from(reportPeriods)
    .where(eq(reportPeriods.origin, 'scheduled'));
  return row?.end ? new Date(row.end) : null;
}

export async function storedPeriods(db: Database): Promise<Array<{ from: Date; to: Date; origin: string; completed: boolean }>> {
  const rows = await db.orm.select().from(reportPeriods);
  return rows.map((r) => ({ from: r.periodStart, to: r.periodEnd, origin: r.origin, completed: r.report !== null }));
}
