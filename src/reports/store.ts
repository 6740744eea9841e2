import { and, eq, isNull, lt, sql } from 'drizzle-orm';
import type { Database } from '../db/database.js';
import type { Report } from './core/model.js';
import { reportPeriods } from './schema.js';

/** A claim older than this with no report is taken over (its claimant died while computing). */
export const STALE_CLAIM_MS = 10 * 60_000;

export type Claim = { kind: 'claimed' } | { kind: 'stored'; report: Report; postedAt: Date | null } | { kind: 'busy' };

/**
 * Claims the period: the first caller inserts its row (the primary key refuses the second), a
 * stale claim is taken over. Only the claimant computes, stores and posts the report.
 */
export async function claimPeriod(db: Database, from: Date, to: Date, who: string, origin: string, now: Date): Promise<Claim> {
  const inserted = await db.orm
    .insert(reportPeriods)
    .values({ periodStart: from, periodEnd: to, origin, claimedBy: who, claimedAt: now })
    .onConflictDoNothing()
    .returning({ at: reportPeriods.claimedAt });
  if (inserted.length > 0) return { kind: 'claimed' };
  const [row] = await db.orm.select().from(reportPeriods).where(and(eq(reportPeriods.periodStart, from), eq(reportPeriods.periodEnd, to)));
  if (row?.report) return { kind: 'stored', report: row.report as Report, postedAt: row.postedAt };
  const taken = await db.orm
    .update(reportPeriods)
    .set({ claimedBy: who, claimedAt: now })
    .where(and(eq(reportPeriods.periodStart, from), eq(reportPeriods.periodEnd, to), isNull(reportPeriods.report), lt(reportPeriods.claimedAt, new Date(now.getTime() - STALE_CLAIM_MS))))
    .returning({ at: reportPeriods.claimedAt });
  return taken.length > 0 ? { kind: 'claimed' } : { kind: 'busy' };
}

export async function saveReport(db: Database, from: Date, to: Date, report: Report, now: Date): Promise<void> {
  await db.orm
    .update(reportPeriods)
    .set({ report, completedAt: now })
    .where(and(eq(reportPeriods.periodStart, from), eq(reportPeriods.periodEnd, to), isNull(reportPeriods.report)));
}

export async function markPosted(db: Database, from: Date, to: Date, now: Date): Promise<void> {
  await db.orm.update(reportPeriods).set({ postedAt: now }).where(and(eq(reportPeriods.periodStart, from), eq(reportPeriods.periodEnd, to)));
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
