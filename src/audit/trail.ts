import { createHash } from 'node:crypto';
import { asc, desc, gt, sql } from 'drizzle-orm';
import type { Clock } from '../core/clock.js';
import { QuenchError } from '../core/errors.js';
import type { Database, Executor } from '../db/database.js';
import {
  type AuditEntryInput,
  type AuditEvent,
  type ChainBreak,
  checkLink,
  GENESIS_HASH,
  hashedFields,
  normaliseData,
} from './core/entry.js';
import { auditEvents } from './schema.js';

export const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Arbitrary constant: the transaction-scoped advisory lock that serialises appends, so that
 * the chain never forks even with several replicas writing. It is held only until the
 * appending transaction commits.
 */
const AUDIT_LOCK_KEY = '7262617313';

type Row = typeof auditEvents.$inferSelect;

function fromRow(row: Row): AuditEvent {
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

export interface AuditTrail {
  /**
   * Appends one entry. Pass the caller's transaction as `executor` to make the audit entry
   * commit (or roll back) together with the change it records.
   */
  append(input: AuditEntryInput, executor?: Executor): Promise<AuditEvent>;
  page(options: { after?: number; limit?: number }): Promise<AuditEvent[]>;
  verify(options?: { batchSize?: number; onProgress?: (checked: number) => void }): Promise<VerifyResult>;
}

export type VerifyResult =
  | { ok: true; count: number; lastSeq: number; lastHash: string }
  | { ok: false; count: number; broken: ChainBreak };

export function createAuditTrail(db: Database, clock: Clock): AuditTrail {
  const appendIn = async (tx: Executor, input: AuditEntryInput): Promise<AuditEvent> => {
    await tx.execute(sql`select pg_advisory_xact_lock(${AUDIT_LOCK_KEY}::bigint)`);
    const [last] = await tx
      .select({ seq: auditEvents.seq, hash: auditEvents.hash })
      .from(auditEvents)
      .orderBy(desc(auditEvents.seq))
      .limit(1);
    const at = new Date(Math.floor(clock.now().getTime()));
    const unsigned = {
      seq: (last?.seq ?? 0) + 1,
      at,
      actor: input.actor,
      action: input.action,
      subject: input.subject,
      data: normaliseData(input.data),
      correlationId: input.correlationId ?? null,
      prevHash: last?.hash ?? GENESIS_HASH,
    };
    const entry: AuditEvent = { ...unsigned, hash: sha256Hex(hashedFields(unsigned)) };
    await tx.insert(auditEvents).values({
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
    });
    return entry;
  };

  return {
    async append(input, executor) {
      try {
        if (executor && executor !== db.orm) return await appendIn(executor, input);
        return await db.orm.transaction((tx) => appendIn(tx, input));
      } catch (err) {
        const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
        throw new QuenchError('audit_append_failed', `could not append to the audit trail (${input.action}): ${cause}`, {
          cause: err,
        });
      }
    },

    async page({ after = 0, limit = 100 }) {
      const rows = await db.orm
        .select()
        .from(auditEvents)
        .where(gt(auditEvents.seq, after))
        .orderBy(asc(auditEvents.seq))
        .limit(Math.min(Math.max(limit, 1), 1000));
      return rows.map(fromRow);
    },

    async verify({ batchSize = 1000, onProgress } = {}) {
      // Keyset pages keep memory constant however long the trail is.
      let previous = { seq: 0, hash: GENESIS_HASH };
      let count = 0;
      for (;;) {
        const rows = await db.orm
          .select()
          .from(auditEvents)
          .where(gt(auditEvents.seq, previous.seq))
          .orderBy(asc(auditEvents.seq))
          .limit(batchSize);
        for (const row of rows) {
          const entry = fromRow(row);
          const broken = checkLink(entry, previous, sha256Hex);
          if (broken) return { ok: false, count, broken };
          previous = { seq: entry.seq, hash: entry.hash };
          count++;
        }
        onProgress?.(count);
        if (rows.length < batchSize) return { ok: true, count, lastSeq: previous.seq, lastHash: previous.hash };
      }
    },
  };
}
