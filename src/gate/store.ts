import { and, desc, eq, isNull, lte, notInArray, sql } from 'drizzle-orm';
import type { Database, Executor } from '../db/database.js';
import type { SloStatus } from '../slo/core/status.js';
import type { Freeze, Override } from './core/model.js';
import type { ExpiryMark } from './core/policy.js';
import { gateBudgets, gateFreezes, gateOverrides } from './schema.js';

/** Rows ↔ core values. Small tables: every replica reads all open rows on each refresh. */
export const GATE_CHANNEL = 'quench_gate';

type FreezeRow = typeof gateFreezes.$inferSelect;
type OverrideRow = typeof gateOverrides.$inferSelect;

export const freezeOf = (r: FreezeRow): Freeze => ({
  id: r.id,
  kind: r.kind as Freeze['kind'],
  services: r.services,
  slo: r.slo,
  blocks: r.blocks as Freeze['blocks'],
  reason: r.reason,
  evidence: r.evidence,
  createdBy: r.createdBy,
  createdAt: r.createdAt.toISOString(),
  until: r.until ? r.until.toISOString() : null,
});

export const overrideOf = (r: OverrideRow): Override => ({
  id: r.id,
  service: r.service,
  changeId: r.changeId,
  reason: r.reason,
  requestedBy: r.requestedBy,
  approvers: r.approvers,
  requesterAliases: r.requesterAliases,
  approverAliases: r.approverAliases,
  createdAt: r.createdAt.toISOString(),
  until: r.until.toISOString(),
});

export interface StoredState {
  statuses: SloStatus[];
  freezes: Freeze[];
  overrides: Override[];
}

/** `budgets: false` skips the one large table (a status per SLO) on the backstop poll. */
export async function loadState(db: Database, options: { budgets: boolean } = { budgets: true }): Promise<Omit<StoredState, 'statuses'> & { statuses: SloStatus[] | undefined }> {
  const [budgets, freezes, overrides] = [
    options.budgets ? await db.orm.select().from(gateBudgets) : undefined,
    await db.orm.select().from(gateFreezes).where(isNull(gateFreezes.liftedAt)),
    await db.orm.select().from(gateOverrides).where(isNull(gateOverrides.endedAt)),
  ];
  return {
    statuses: budgets?.map((b) => b.status as SloStatus),
    freezes: freezes.map(freezeOf).sort((a, b) => a.createdAt.localeCompare(b.createdAt)),
    overrides: overrides.map(overrideOf),
  };
}

export async function saveBudgets(db: Database, statuses: SloStatus[], at: Date): Promise<void> {
  if (statuses.length === 0) return;
  await db.orm
    .insert(gateBudgets)
    .values(statuses.map((s) => ({ slo: s.name, service: s.service, status: s, updatedAt: at })))
    .onConflictDoUpdate({
      target: gateBudgets.slo,
      set: { service: sql`excluded.service`, status: sql`excluded.status`, updatedAt: sql`excluded.updated_at` },
    });
}

export async function insertFreeze(ex: Executor, f: Freeze, runId?: string): Promise<void> {
  await ex.insert(gateFreezes).values({
    id: f.id,
    kind: f.kind,
    services: f.services,
    slo: f.slo,
    blocks: f.blocks,
    reason: f.reason,
    evidence: f.evidence,
    createdBy: f.createdBy,
    createdAt: new Date(f.createdAt),
    until: f.until ? new Date(f.until) : null,
    runId: runId ?? null,
  });
}

/**
 * Lifts an open freeze; undefined when it does not exist or was already lifted (a race lost).
 * `evidence`: replaces the stored evidence (an expiry adds its mark).
 */
export async function liftFreeze(ex: Executor, id: string, by: string, reason: string, at: Date, evidence?: Record<string, unknown>): Promise<Freeze | undefined> {
  const [row] = await ex
    .update(gateFreezes)
    .set({ liftedAt: at, liftedBy: by, liftReason: reason, ...(evidence ? { evidence } : {}) })
    .where(and(eq(gateFreezes.id, id), isNull(gateFreezes.liftedAt)))
    .returning();
  return row ? freezeOf(row) : undefined;
}

export async function setBlocks(ex: Executor, id: string, blocks: Freeze['blocks'], reason: string): Promise<void> {
  await ex.update(gateFreezes).set({ blocks, reason }).where(eq(gateFreezes.id, id));
}

export async function findFreeze(ex: Executor, id: string): Promise<(Freeze & { liftedAt: string | null }) | undefined> {
  const [row] = await ex.select().from(gateFreezes).where(eq(gateFreezes.id, id));
  return row ? { ...freezeOf(row), liftedAt: row.liftedAt?.toISOString() ?? null } : undefined;
}

export async function openFreezesOfRun(ex: Executor, runId: string): Promise<Freeze[]> {
  const rows = await ex
    .select()
    .from(gateFreezes)
    .where(and(eq(gateFreezes.runId, runId), isNull(gateFreezes.liftedAt)));
  return rows.map(freezeOf);
}

export async function expiredFreezes(ex: Executor, now: Date): Promise<Freeze[]> {
  const rows = await ex
    .select()
    .from(gateFreezes)
    .where(and(isNull(gateFreezes.liftedAt), lte(gateFreezes.until, now)));
  return rows.map(freezeOf);
}

export async function insertOverride(ex: Executor, o: Override): Promise<void> {
  await ex.insert(gateOverrides).values({
    ...o,
    createdAt: new Date(o.createdAt),
    until: new Date(o.until),
  });
}

export async function findOverride(ex: Executor, id: string): Promise<(Override & { ended: boolean }) | undefined> {
  const [row] = await ex.select().from(gateOverrides).where(eq(gateOverrides.id, id));
  return row ? { ...overrideOf(row), ended: row.endedAt !== null } : undefined;
}

/** Compare-and-set on the approver list, so two concurrent approvals cannot both count as second. */
export async function setApprovers(ex: Executor, id: string, before: string[], after: string[], afterAliases: string[][]): Promise<boolean> {
  const rows = await ex
    .update(gateOverrides)
    .set({ approvers: after, approverAliases: afterAliases })
    .where(and(eq(gateOverrides.id, id), isNull(gateOverrides.endedAt), sql`${gateOverrides.approvers} = ${JSON.stringify(before)}::jsonb`))
    .returning({ id: gateOverrides.id });
  return rows.length === 1;
}

export async function endExpiredOverrides(ex: Executor, now: Date): Promise<Override[]> {
  const rows = await ex
    .update(gateOverrides)
    .set({ endedAt: now })
    .where(and(isNull(gateOverrides.endedAt), lte(gateOverrides.until, now)))
    .returning();
  return rows.map(overrideOf);
}

export const EXPIRY_LIFTER = 'freeze-expiry';

/**
 * Per SLO, the expiry mark of its latest automatic freeze when that freeze ended by expiry (an
 * open one, or one lifted on recovery since, means no mark). One query per evaluation cycle.
 */
export async function lastAutoExpiries(ex: Executor): Promise<Map<string, ExpiryMark>> {
  const rows = await ex
    .selectDistinctOn([gateFreezes.slo], { slo: gateFreezes.slo, liftedBy: gateFreezes.liftedBy, evidence: gateFreezes.evidence })
    .from(gateFreezes)
    .where(eq(gateFreezes.kind, 'auto'))
    .orderBy(gateFreezes.slo, sql`${gateFreezes.liftedAt} desc nulls first`, desc(gateFreezes.createdAt));
  const out = new Map<string, ExpiryMark>();
  for (const r of rows) {
    const mark = r.evidence.expiry as ExpiryMark | undefined;
    if (r.slo !== null && r.liftedBy === EXPIRY_LIFTER && mark) out.set(r.slo, mark);
  }
  return out;
}

/** Open automatic freezes of SLOs no longer defined (a file removed or renamed). */
export async function orphanedAutoFreezes(ex: Executor, slos: string[]): Promise<Freeze[]> {
  const open = and(eq(gateFreezes.kind, 'auto'), isNull(gateFreezes.liftedAt));
  const rows = await ex
    .select()
    .from(gateFreezes)
    .where(slos.length > 0 ? and(open, notInArray(gateFreezes.slo, slos)) : open);
  return rows.map(freezeOf);
}

/** Stored budgets of SLOs no longer defined: gone from every replica's answers. */
export async function deleteBudgetsExcept(ex: Executor, slos: string[]): Promise<void> {
  await ex.delete(gateBudgets).where(slos.length > 0 ? notInArray(gateBudgets.slo, slos) : sql`true`);
}
