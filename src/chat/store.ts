import { and, asc, eq, isNotNull, isNull, lt, lte, sql } from 'drizzle-orm';
import type { Database, Executor } from '../db/database.js';
import type { Person } from './core/decision-policy.js';
import type { MessageRef } from './port.js';
import { chatGroupCursors, chatHumanSteps, chatInbox, chatRunThreads } from './schema.js';

/**
 * SQL for the chat tables, one small function each. Every function is a short statement or a
 * short transaction: no Slack or PagerDuty call ever happens while one is open.
 */
export type OfferRow = Omit<typeof chatHumanSteps.$inferSelect, 'assignees'> & { assignees: Person[]; messages: MessageRef[] };

export interface SlaSpec {
  withinMs: number;
  remindAt: number;
  escalateTo?: unknown;
  reassign: boolean;
}

function fromRow(row: typeof chatHumanSteps.$inferSelect): OfferRow {
  const refs = row.channel && row.messageTs ? parseRefs(row.channel, row.messageTs) : [];
  return { ...row, assignees: (row.assignees ?? []) as Person[], messages: refs };
}

// Several messages per step (a thread reply plus DMs) are kept as parallel comma lists: Slack
// channel ids and timestamps contain no commas.
function parseRefs(channels: string, tss: string): MessageRef[] {
  const c = channels.split(',');
  const t = tss.split(',');
  return c.map((channel, i) => ({ channel, ts: t[i] ?? '' })).filter((r) => r.ts !== '');
}

export function refColumns(refs: MessageRef[]): { channel: string | null; messageTs: string | null } {
  if (refs.length === 0) return { channel: null, messageTs: null };
  return { channel: refs.map((r) => r.channel).join(','), messageTs: refs.map((r) => r.ts).join(',') };
}

export async function loadOffer(ex: Executor, stepId: string, forUpdate = false): Promise<OfferRow | undefined> {
  const q = ex.select().from(chatHumanSteps).where(eq(chatHumanSteps.stepId, stepId));
  const [row] = forUpdate ? await q.for('update') : await q;
  return row ? fromRow(row) : undefined;
}

/** Inserts the step's offer once; a second notification for the same step changes nothing. */
export async function insertOffer(db: Database, row: typeof chatHumanSteps.$inferInsert): Promise<boolean> {
  const inserted = await db.orm.insert(chatHumanSteps).values(row).onConflictDoNothing().returning({ stepId: chatHumanSteps.stepId });
  return inserted.length > 0;
}

export async function updateOffer(ex: Executor, stepId: string, set: Partial<typeof chatHumanSteps.$inferInsert>): Promise<void> {
  await ex.update(chatHumanSteps).set(set).where(eq(chatHumanSteps.stepId, stepId));
}

/** Open (offered, undecided) steps per assignee alias within a group: the WIP load. */
export async function groupLoad(db: Database, groupId: string): Promise<Map<string, number>> {
  const rows = await db.orm
    .select({ assignees: chatHumanSteps.assignees })
    .from(chatHumanSteps)
    .where(and(eq(chatHumanSteps.groupId, groupId), eq(chatHumanSteps.status, 'offered')));
  const load = new Map<string, number>();
  for (const row of rows) for (const p of row.assignees as Person[]) for (const a of p.aliases) load.set(a, (load.get(a) ?? 0) + 1);
  return load;
}

/** The group's queued steps, highest severity first, FIFO within a severity. */
export async function queuedInGroup(db: Database, groupId: string): Promise<OfferRow[]> {
  const rows = await db.orm
    .select()
    .from(chatHumanSteps)
    .where(and(eq(chatHumanSteps.groupId, groupId), eq(chatHumanSteps.status, 'queued')))
    .orderBy(
      sql`case ${chatHumanSteps.severity} when 'critical' then 0 when 'error' then 1 when 'warning' then 2 when 'info' then 3 else 4 end`,
      asc(chatHumanSteps.queuedAt),
      asc(chatHumanSteps.stepId),
    );
  return rows.map(fromRow);
}

/** The group's round-robin position. */
export async function cursorOf(db: Database, groupId: string): Promise<number> {
  const [row] = await db.orm.select().from(chatGroupCursors).where(eq(chatGroupCursors.groupId, groupId));
  return row?.cursor ?? 0;
}

export async function saveCursor(db: Database, groupId: string, cursor: number): Promise<void> {
  await db.orm
    .insert(chatGroupCursors)
    .values({ groupId, cursor })
    .onConflictDoUpdate({ target: chatGroupCursors.groupId, set: { cursor } });
}

export async function dueTimers(db: Database, now: Date, limit = 50): Promise<string[]> {
  const rows = await db.orm
    .select({ stepId: chatHumanSteps.stepId })
    .from(chatHumanSteps)
    .where(and(isNotNull(chatHumanSteps.timerAt), lte(chatHumanSteps.timerAt, now)))
    .orderBy(asc(chatHumanSteps.timerAt))
    .limit(limit);
  return rows.map((r) => r.stepId);
}

export async function thread(db: Database, runId: string): Promise<typeof chatRunThreads.$inferSelect | undefined> {
  const [row] = await db.orm.select().from(chatRunThreads).where(eq(chatRunThreads.runId, runId));
  return row;
}

export async function saveThread(db: Database, row: typeof chatRunThreads.$inferInsert): Promise<void> {
  await db.orm.insert(chatRunThreads).values(row).onConflictDoNothing();
}

export async function acknowledgeThread(db: Database, runId: string, by: string, at: Date): Promise<boolean> {
  const rows = await db.orm
    .update(chatRunThreads)
    .set({ acknowledgedBy: by, acknowledgedAt: at, updatedAt: at })
    .where(and(eq(chatRunThreads.runId, runId), isNull(chatRunThreads.acknowledgedBy)))
    .returning({ runId: chatRunThreads.runId });
  return rows.length > 0;
}

/** Records an interaction; false when the same key was seen before (a retry or a replay). */
export async function enqueueInbox(db: Database, key: string, item: unknown, now: Date): Promise<number | undefined> {
  const rows = await db.orm
    .insert(chatInbox)
    .values({ key, item, receivedAt: now })
    .onConflictDoNothing()
    .returning({ seq: chatInbox.seq });
  return rows[0]?.seq;
}

export async function markInbox(db: Database, seq: number, at: Date, error?: string): Promise<void> {
  await db.orm
    .update(chatInbox)
    .set(error === undefined ? { processedAt: at, error: null } : { error, attempts: sql`${chatInbox.attempts} + 1` })
    .where(eq(chatInbox.seq, seq));
}

/** Interactions acknowledged but not handled (the process stopped in between): oldest first. */
export async function pendingInbox(db: Database, olderThan: Date, limit = 20): Promise<Array<{ seq: number; item: unknown }>> {
  return db.orm
    .select({ seq: chatInbox.seq, item: chatInbox.item })
    .from(chatInbox)
    .where(and(isNull(chatInbox.processedAt), lt(chatInbox.attempts, 5), lte(chatInbox.receivedAt, olderThan)))
    .orderBy(asc(chatInbox.seq))
    .limit(limit);
}
