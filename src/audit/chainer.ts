import { sql } from 'drizzle-orm';
import { QuenchError } from '../core/errors.js';
import type { Database, Executor } from '../db/database.js';
import { pipelineOn } from '../db/pipeline.js';
import { epochMs, parsedJson, pgArray } from '../db/rows.js';
import { type ChainHashers, laterHead, linkBatch, type SeenHead } from './core/chain.js';
import { type AuditEvent, pendingFields } from './core/entry.js';
import type { auditEvents } from './schema.js';

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

/**
 * What one trail (one process) remembers of the chain across its passes: the newest entry it
 * saw or wrote (core/chain.ts `SeenHead`). A pass refuses a head that went back from it.
 */
export interface ChainMemory {
  seen?: SeenHead;
}

/** Test seams: crash tests, and changes made behind the pass's back. */
export interface ChainFaults {
  /** Runs after the pass read its batch and the head, before it writes. */
  afterRead?: (tx: Executor) => Promise<void>;
  /** Runs between the chain INSERT and the outbox DELETE of a pass. */
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
 * `memory`: what this trail saw of the chain, checked before and advanced after the pass.
 * `mark: false`: a reader's pass, which never keys a plain trail (core/chain.ts `linkBatch`).
 * Returns the number of outbox entries chained, or `busy`.
 */
export async function chainPass(
  db: Database,
  hashers: ChainHashers,
  options: { wait: boolean; batch?: number; faults?: ChainFaults; memory?: ChainMemory; mark?: boolean },
): Promise<number | 'busy'> {
  let written: SeenHead | undefined;
  const chained = await db.orm.transaction(async (tx) => {
    // The lock, the batch and the head in one round trip (pipeline.ts): the reads are later
    // statements, so they see everything committed before the lock was granted. Without the
    // lock they are discarded.
    const pl = pipelineOn(tx);
    const lock = options.wait
      ? pl.add<{ locked: boolean }>(sql`select true as locked from (select pg_advisory_xact_lock(${CHAINER_LOCK_KEY}::bigint)) l`)
      : pl.add<{ locked: boolean }>(sql`select pg_try_advisory_xact_lock(${CHAINER_LOCK_KEY}::bigint) as locked`);
    const batch = pl.add<RawOutboxRow>(sql`select id, ${epochMs(sql`at`)} as at_ms, actor_type, actor_id, action, subject_type, subject_id, data, correlation_id, mac
      from audit_outbox order by id limit ${options.batch ?? CHAIN_BATCH}`);
    const head = pl.add<RawEventRow>(sql`select seq, ${epochMs(sql`at`)} as at_ms, actor_type, actor_id, action, subject_type, subject_id, data, correlation_id, prev_hash, hash
      from audit_events order by seq desc limit 1`);
    await pl.settled();
    const [locked] = await lock;
    if (!locked?.locked) return 'busy';
    const pending = (await batch).map(outboxFromRaw);
    if (pending.length === 0) return 0;
    await options.faults?.afterRead?.(tx);
    const [headRow] = (await head).map(eventFromRaw);
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
        // Read back from jsonb: linked as it is, with no JSON round trip.
        return { at: p.at, input, authentic, normalised: true };
      }),
      hashers,
      options.memory?.seen,
      options.mark ?? true,
    );
    if (linked.entries.length === 0) throw new QuenchError('audit_chain_broken', linked.refused ?? 'nothing to link');
    // One statement whatever the batch size (one prepared statement, not one per row count).
    // Chained outbox rows are copied by the server from the outbox rows this pass read and
    // hashed (immutable: UPDATE is refused by trigger, and no other chainer runs under the lock),
    // so only their seq, links and ids travel, not their contents: no JSON to build here, none to
    // parse there. The keyed marker has no outbox row and comes as JSON (an empty array but once).
    // The count makes a row that vanished meanwhile (deleted by its owner behind the trigger)
    // fail the pass instead of leaving a gap in `seq`.
    const fromOutbox = linked.entries.filter((l) => l.source !== undefined);
    const markers = linked.entries.flatMap(({ entry, source }) => (source === undefined ? [markerRow(entry)] : []));
    const chained = pgArray(fromOutbox.map(({ source }) => pending[source!]!.id));
    const inserted = pl.add<{ n: number }>(sql`with linked as (
        insert into audit_events (seq, at, actor_type, actor_id, action, subject_type, subject_id, data, correlation_id, prev_hash, hash, outbox_id)
        select l.seq, o.at, o.actor_type, o.actor_id, o.action, o.subject_type, o.subject_id, o.data, o.correlation_id, l.prev_hash, l.hash, o.id
          from unnest(${pgArray(fromOutbox.map(({ entry }) => entry.seq))}::bigint[], ${chained}::bigint[],
            ${pgArray(fromOutbox.map(({ entry }) => entry.prevHash))}::text[], ${pgArray(fromOutbox.map(({ entry }) => entry.hash))}::text[]
          ) as l(seq, outbox_id, prev_hash, hash)
          join audit_outbox o on o.id = l.outbox_id
          where o.id = any(${chained}::bigint[])
        union all
        select seq, at, actor_type, actor_id, action, subject_type, subject_id, data, correlation_id, prev_hash, hash, outbox_id
          from json_populate_recordset(null::audit_events, ${JSON.stringify(markers)}::json)
        returning 1
      )
      select count(*)::int as n from linked`);
    if (options.faults?.afterInsert) {
      await pl.settled();
      await options.faults.afterInsert(tx);
    }
    void pl.add(sql`delete from audit_outbox where id = any(${chained}::bigint[])`);
    await pl.settled();
    const [count] = await inserted;
    if (Number(count?.n) !== linked.entries.length) {
      throw new QuenchError('audit_chain_broken', `a chain pass linked ${linked.entries.length} entries but inserted ${count?.n}: outbox rows vanished during the pass`);
    }
    written = { seq: linked.entries.at(-1)!.entry.seq, keyed: linked.mode === 'keyed' };
    return fromOutbox.length;
  });
  // Remembered once committed: a pass that rolled back wrote nothing to remember.
  if (written && options.memory) options.memory.seen = laterHead(options.memory.seen, written);
  return chained;
}

/** The marker entry as `json_populate_recordset(null::audit_events, …)` reads it. */
const markerRow = (entry: AuditEvent) => ({
  seq: entry.seq,
  at: entry.at.toISOString(),
  actor_type: entry.actor.type,
  actor_id: entry.actor.id,
  action: entry.action,
  subject_type: entry.subject.type,
  subject_id: entry.subject.id,
  data: entry.data,
  correlation_id: entry.correlationId,
  prev_hash: entry.prevHash,
  hash: entry.hash,
  outbox_id: null,
});

interface RawCommon {
  at_ms: number | string;
  actor_type: string;
  actor_id: string;
  action: string;
  subject_type: string;
  subject_id: string;
  data: unknown;
  correlation_id: string | null;
}
type RawOutboxRow = RawCommon & { id: number | string; mac: string | null };
type RawEventRow = RawCommon & { seq: number | string; prev_hash: string; hash: string };

/** The fields both tables share, as read (one object, completed in place by each reader). */
const common = (r: RawCommon) => ({
  at: new Date(Number(r.at_ms)),
  actorType: r.actor_type,
  actorId: r.actor_id,
  action: r.action,
  subjectType: r.subject_type,
  subjectId: r.subject_id,
  data: parsedJson(r.data),
  correlationId: r.correlation_id,
});
const outboxFromRaw = (r: RawOutboxRow) => Object.assign(common(r), { id: Number(r.id), mac: r.mac });
const eventFromRaw = (r: RawEventRow): AuditRow => Object.assign(common(r), { seq: Number(r.seq), prevHash: r.prev_hash, hash: r.hash }) as AuditRow;

/** Chains everything committed so far (waiting for a running pass); returns how many entries it chained. */
export async function chainAll(db: Database, hashers: ChainHashers, faults?: ChainFaults, memory?: ChainMemory): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await chainPass(db, hashers, { wait: true, faults, memory });
    if (n === 'busy') continue;
    total += n;
    if (n < CHAIN_BATCH) return total;
  }
}
