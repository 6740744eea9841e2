import { and, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { Database, Executor } from '../db/database.js';
import { drillArmedScenarios } from './schema.js';

/**
 * The rows of armed scenario drills (schema.ts). Leases are granted and judged by the
 * database's clock, like the engine's: replicas with skewed clocks agree when one expired.
 */
export type ArmedRow = typeof drillArmedScenarios.$inferSelect;
export type ArmedEnd = Exclude<ArmedRow['state'], 'armed'>;

const leaseUntil = (leaseMs: number) => sql`now() + ${`${Math.ceil(leaseMs)} milliseconds`}::interval`;

export async function insertArmed(tx: Executor, row: Omit<ArmedRow, 'state' | 'leaseUntil' | 'runId' | 'endedAt'>, leaseMs: number): Promise<void> {
  await tx.insert(drillArmedScenarios).values({ ...row, state: 'armed', leaseUntil: leaseUntil(leaseMs) });
}

/**
 * Renews this owner's leases and takes over the armed rows whose lease ran out (their replica
 * died or stopped) or that nobody holds (released by a graceful stop). Returns every armed row
 * this owner now holds.
 */
export async function claimArmed(db: Database, owner: string, leaseMs: number): Promise<ArmedRow[]> {
  const t = drillArmedScenarios;
  return db.orm
    .update(t)
    .set({ owner, leaseUntil: leaseUntil(leaseMs) })
    .where(and(eq(t.state, 'armed'), or(eq(t.owner, owner), isNull(t.leaseUntil), lt(t.leaseUntil, sql`now()`))))
    .returning();
}

/**
 * Ends an armed row once: of two replicas that both think they hold it (a lease that ran out
 * under a stalled owner), only the one whose update lands records the end. Returns whether it did.
 */
export async function endArmed(tx: Executor, id: string, state: ArmedEnd, at: Date, runId?: string): Promise<boolean> {
  const t = drillArmedScenarios;
  const rows = await tx
    .update(t)
    .set({ state, endedAt: at, runId: runId ?? null, owner: null, leaseUntil: null })
    .where(and(eq(t.id, id), eq(t.state, 'armed')))
    .returning({ id: t.id });
  return rows.length > 0;
}

/** A stopping replica hands its armed rows back, so another (or its own restart) adopts them at once. */
export async function releaseArmed(db: Database, owner: string): Promise<void> {
  const t = drillArmedScenarios;
  await db.orm.update(t).set({ owner: null, leaseUntil: null }).where(and(eq(t.state, 'armed'), eq(t.owner, owner)));
}

export async function armedById(db: Database, id: string): Promise<ArmedRow | undefined> {
  const [row] = await db.orm.select().from(drillArmedScenarios).where(eq(drillArmedScenarios.id, id));
  return row;
}
