import { asc, desc, inArray, sql } from 'drizzle-orm';
import { QuenchError } from '../core/errors.js';
import type { Database, Executor } from '../db/database.js';
import { type ChainHashers, linkBatch } from './core/chain.js';
import { type AuditEvent, pendingFields } from './core/entry.js';
import { auditEvents, auditOutbox } from './schema.js';

/**
 * Arbitrary constant: the transaction-scoped advisory lock a chain pass holds, so one chainer
 * at a time extends the chain. Same key as the per-append lock of earlier versions, so a
 * replica still running one of them and a chainer never extend the head together. It is
 * held for one batch (a few ms), never by the transactions that record changes.
 */
export const CHAINER_LOCK_KEY = '7262617313';

/** Entries per pass: one INSERT of this many rows stays far below PostgreSQL's 65,535 parameters. */
export const CHAIN_BATCH = 500;

export type AuditRow = typeof auditEvents.$inferSelect;

export function fromRow(row: AuditRow): AuditEvent {
  return {
    seq: row.seq,
    at: row.at,
    actor: { type: row.actorType as 'user' | 'system', id: row.actorId },
    action: row.action,
    subject: { type: row.subjectType, id: row.subjectId },
    data: row.data as AuditEvent['data'],
    correlationId: row.correlationId,
    prevHash: row.prevHash,
    hash: row.hash,
  };
}

/** Test seam: runs between the chain INSERT and the outbox DELETE of a pass (crash tests). */
export interface ChainFaults {
  afterInsert?: (tx: Executor) => Promise<void>;
}

/**
 * One chain pass: under the chainer lock, reads the head (checked against this writer's key
 * by `linkBatch`), links up to `CHAIN_BATCH` committed outbox entries in `id` order, inserts
 * them into `audit_events` and deletes them from the outbox, all in one transaction. A crash
 * anywhere rolls the whole pass back; `seq` being the primary key (and `outbox_id` unique)
 * makes a second writer that read the same head fail instead of forking.
 *
 * Why `id` order is a correct chain order (ARCHITECTURE.md): an entry is chained only once its
 * transaction committed, and `id` is drawn inside that transaction. If transaction A committed
 * before B began, A's ids are smaller and A is visible whenever B is, so A is chained first.
 * Changes serialised by a row lock (one run's transitions) draw their ids in lock order.
 *
 * `wait`: block on the lock (flush) instead of giving up when another chainer holds it.
 * Returns the number of outbox entries chained, or `busy`.
 */
export async function chainPass(
  db: Database,
  hashers: ChainHashers,
  options: { wait: boolean; batch?: number; faults?: ChainFaults },
): Promise<number | 'busy'> {
  return db.orm.transaction(async (tx) => {
    if (options.wait) await tx.execute(sql`select pg_advisory_xact_lock(${CHAINER_LOCK_KEY}::bigint)`);
    else {
      const [row] = await db.rows<{ locked: boolean }>(sql`select pg_try_advisory_xact_lock(${CHAINER_LOCK_KEY}::bigint) as locked`, tx);
      if (!row?.locked) return 'busy';
    }
    const pending = await tx
      .select()
      .from(auditOutbox)
      .orderBy(asc(auditOutbox.id))
      .limit(options.batch ?? CHAIN_BATCH);
    if (pending.length === 0) return 0;
    const [headRow] = await tx.select().from(auditEvents).orderBy(desc(auditEvents.seq)).limit(1);
    const linked = linkBatch(
      headRow && fromRow(headRow),
      pending.map((p) => {
        const input = {
          actor: { type: p.actorType as 'user' | 'system', id: p.actorId },
          action: p.action,
          subject: { type: p.subjectType, id: p.subjectId },
          data: p.data as Record<string, unknown>,
          correlationId: p.correlationId,
        };
        const authentic = hashers.keyed !== undefined && p.mac === hashers.keyed.hash(pendingFields({ ...input, at: p.at, id: p.id }));
        return { at: p.at, input, authentic };
      }),
      hashers,
    );
    if (linked.entries.length === 0) throw new QuenchError('audit_chain_broken', linked.refused ?? 'nothing to link');
    await tx.insert(auditEvents).values(
      linked.entries.map(({ entry, source }) => ({
        seq: entry.seq,
        at: entry.at,
        actorType: entry.actor.type,
        actorId: entry.actor.id,
        action: entry.action,
        subjectType: entry.subject.type,
        subjectId: entry.subject.id,
        data: entry.data,
        correlationId: entry.correlationId,
        prevHash: entry.prevHash,
        hash: entry.hash,
        outboxId: source === undefined ? null : pending[source]!.id,
      })),
    );
    await options.faults?.afterInsert?.(tx);
    const chained = linked.entries.flatMap(({ source }) => (source === undefined ? [] : [pending[source]!.id]));
    await tx.delete(auditOutbox).where(inArray(auditOutbox.id, chained));
    return chained.length;
  });
}

/** Chains everything committed so far (waiting for a running pass); returns how many entries it chained. */
export async function chainAll(db: Database, hashers: ChainHashers, faults?: ChainFaults): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await chainPass(db, hashers, { wait: true, faults });
    if (n === 'busy') continue;
    total += n;
    if (n < CHAIN_BATCH) return total;
  }
}
