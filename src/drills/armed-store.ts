import { and, eq, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import type { TriggerEvent } from '../triggers/event.js';
import type { Database, Executor } from '../db/database.js';
import { drillArmedScenarios } from './schema.js';

/**
 * The rows of armed scenario drills (schema.ts). Leases are granted and judged by the
 * database's clock, like the engine's: replicas with skewed clocks agree when one expired.
 */
export type ArmedRow = typeof drillArmedScenarios.$inferSelect;
export type ArmedEnd = Exclude<ArmedRow['state'], 'armed' | 'firing'>;
/** Rows someone must hold: evaluated (`armed`), or with a run to start (`firing`). */
const open = ['armed', 'firing'] as const;

const leaseUntil = (leaseMs: number) => sql`now() + ${`${Math.ceil(leaseMs)} milliseconds`}::interval`;

export async function insertArmed(tx: Executor, row: Omit<ArmedRow, 'state' | 'leaseUntil' | 'runId' | 'endedAt' | 'fireEvent'>, leaseMs: number): Promise<void> {
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
    .where(and(inArray(t.state, [...open]), or(eq(t.owner, owner), isNull(t.leaseUntil), lt(t.leaseUntil, sql`now()`))))
    .returning();
}

/**
 * Claims the fire of an armed row before its run starts: of a replica that fires and one that
 * meanwhile took the row over and expired it (the first one stalled past its lease), only the
 * one whose update lands goes on. The trigger is kept, so whoever holds the row next starts
 * that run if this replica dies before it does.
 */
export async function markFiring(db: Database, id: string, trigger: TriggerEvent): Promise<boolean> {
  const t = drillArmedScenarios;
  const rows = await db.orm
    .update(t)
    .set({ state: 'firing', fireEvent: trigger })
    .where(and(eq(t.id, id), eq(t.state, 'armed')))
    .returning({ id: t.id });
  return rows.length > 0;
}

/**
 * Ends an armed row once: of two replicas that both think they hold it (a lease that ran out
 * under a stalled owner), only the one whose update lands records the end. A row whose fire is
 * claimed ends only as `fired` (or `lost`, when its playbook is gone). Returns whether it did.
 */
export async function endArmed(tx: Executor, id: string, state: ArmedEnd, at: Date, runId?: string): Promise<boolean> {
  const t = drillArmedScenarios;
  const rows = await tx
    .update(t)
    .set({ state, endedAt: at, runId: runId ?? null, owner: null, leaseUntil: null })
    .where(and(eq(t.id, id), state === 'expired' ? eq(t.state, 'armed') : inArray(t.state, [...open])))
    .returning({ id: t.id });
  return rows.length > 0;
}

/** A stopping replica hands its armed rows back, so another (or its own restart) adopts them at once. */
export async function releaseArmed(db: Database, owner: string): Promise<void> {
  const t = drillArmedScenarios;
  await db.orm.update(t).set({ owner: null, leaseUntil: null }).where(and(inArray(t.state, [...open]), eq(t.owner, owner)));
}
