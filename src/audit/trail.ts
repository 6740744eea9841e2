import { createHash, createHmac } from 'node:crypto';
import { asc, desc, gt, sql } from 'drizzle-orm';
import type { Clock } from '../core/clock.js';
import { QuenchError } from '../core/errors.js';
import type { Database, Executor } from '../db/database.js';
import {
  advanceChain,
  type ChainHashers,
  type ChainState,
  decideAppend,
  type ExpectedHeads,
  finishChain,
  initialChainState,
  keyedMarker,
  type Link,
  type LinkMode,
  linkEntry,
  type VerifyBreak,
} from './core/chain.js';
import type { AuditEntryInput, AuditEvent } from './core/entry.js';
import { auditEvents } from './schema.js';

export const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * The hash functions for a trail: plain SHA-256 always, HMAC-SHA256 when QUENCH_AUDIT_KEY is
 * set. The key id is an HMAC of a fixed label, so the marker entry can say which key keyed
 * the chain without revealing anything about the key.
 */
export function auditHashers(key?: string): ChainHashers {
  if (!key) return { plain: sha256Hex };
  const hmac = (text: string) => createHmac('sha256', key).update(text).digest('hex');
  return { plain: sha256Hex, keyed: { hash: hmac, keyId: hmac('quench audit key id').slice(0, 16) } };
}

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
  /**
   * Walks the whole chain. `expected`: heads recorded elsewhere (sequence → hash) that the
   * stored chain must still contain.
   */
  verify(options?: { batchSize?: number; onProgress?: (checked: number) => void; expected?: ExpectedHeads }): Promise<VerifyResult>;
  /** The newest entry's sequence and hash (what is published for `verify --expect`). */
  head(): Promise<Link | undefined>;
  /**
   * Checks that this writer may extend the chain (the head authenticates under its key, or
   * lack of one) and, with a key on a plain chain, appends the marker that makes it keyed.
   * Appends do the same; the service calls this at start so a wrong key stops it at once.
   */
  prepare(): Promise<void>;
  /** `keyed` when QUENCH_AUDIT_KEY is set. */
  readonly mode: LinkMode;
}

export type VerifyResult =
  | { ok: true; count: number; lastSeq: number; lastHash: string; keyedSince: number | null }
  | { ok: false; count: number; broken: VerifyBreak };

export interface AuditTrailOptions {
  /** QUENCH_AUDIT_KEY: new entries are HMAC-SHA256 links (../../docs/database-roles.md). */
  key?: string | undefined;
}

export function createAuditTrail(db: Database, clock: Clock, options: AuditTrailOptions = {}): AuditTrail {
  const hashers = auditHashers(options.key);

  /** Under the append lock: the head, checked against this writer's mode (see decideAppend). */
  const lockedHead = async (tx: Executor) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${AUDIT_LOCK_KEY}::bigint)`);
    const [row] = await tx.select().from(auditEvents).orderBy(desc(auditEvents.seq)).limit(1);
    const head = row && fromRow(row);
    const decision = decideAppend(head, hashers);
    if (decision.kind === 'refuse') throw new QuenchError('audit_chain_broken', decision.reason);
    return { head, decision };
  };

  const insert = async (tx: Executor, previous: Link | undefined, input: AuditEntryInput, mode: LinkMode): Promise<AuditEvent> => {
    const at = new Date(Math.floor(clock.now().getTime()));
    const entry = linkEntry(previous, input, at, mode === 'keyed' ? hashers.keyed!.hash : hashers.plain);
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

  const appendIn = async (tx: Executor, input: AuditEntryInput): Promise<AuditEvent> => {
    const { head, decision } = await lockedHead(tx);
    if (decision.kind === 'append') return insert(tx, head, input, decision.mode);
    const marker = await insert(tx, head, keyedMarker(hashers.keyed!.keyId), 'keyed');
    return insert(tx, marker, input, 'keyed');
  };

  return {
    mode: hashers.keyed ? 'keyed' : 'plain',

    async prepare() {
      await db.orm.transaction(async (tx) => {
        const { head, decision } = await lockedHead(tx);
        if (decision.kind === 'mark_then_append') await insert(tx, head, keyedMarker(hashers.keyed!.keyId), 'keyed');
      });
    },

    async head() {
      const [row] = await db.orm.select({ seq: auditEvents.seq, hash: auditEvents.hash }).from(auditEvents).orderBy(desc(auditEvents.seq)).limit(1);
      return row;
    },

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

    async verify({ batchSize = 1000, onProgress, expected } = {}) {
      // Keyset pages keep memory constant however long the trail is.
      let state: ChainState = initialChainState;
      for (;;) {
        const rows = await db.orm
          .select()
          .from(auditEvents)
          .where(gt(auditEvents.seq, state.previous.seq))
          .orderBy(asc(auditEvents.seq))
          .limit(batchSize);
        for (const row of rows) {
          const step = advanceChain(state, fromRow(row), hashers, expected);
          if ('broken' in step) return { ok: false, count: state.count, broken: step.broken };
          state = step.state;
        }
        onProgress?.(state.count);
        if (rows.length < batchSize) break;
      }
      const broken = finishChain(state, hashers, expected);
      if (broken) return { ok: false, count: state.count, broken };
      return { ok: true, count: state.count, lastSeq: state.previous.seq, lastHash: state.previous.hash, keyedSince: state.keyedSince };
    },
  };
}
