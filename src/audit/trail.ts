import { createHash, createHmac } from 'node:crypto';
import { asc, desc, gt, type SQL, sql } from 'drizzle-orm';
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
  headRegression,
  initialChainState,
  laterHead,
  keyedMarker,
  keyedUnder,
  type Link,
  type LinkMode,
  linkEntry,
  type SeenHead,
  type VerifyBreak,
} from './core/chain.js';
import { type AuditEntryInput, type AuditEvent, normaliseData, pendingFields } from './core/entry.js';
import { type AuditRow, CHAIN_BATCH, CHAINER_LOCK_KEY, type ChainFaults, type ChainMemory, chainAll, chainPass, fromRow } from './chainer.js';
import { createChainLoop } from './chain-loop.js';
import { pgArray } from '../db/rows.js';
import type { Pipeline } from '../db/pipeline.js';
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

export interface AuditTrail {
  /**
   * Records one entry. Pass the caller's transaction as `executor` to make the entry commit
   * (or roll back) together with the change it records. It lands in the outbox without any
   * lock; the chainer links it shortly after the commit (ARCHITECTURE.md), so the result has
   * no `seq` or `hash` yet.
   */
  append(input: AuditEntryInput, executor?: Executor): Promise<PendingAuditEntry>;
  /**
   * Records several entries in one statement, in the order given (their outbox ids ascend in
   * it). `send` runs the statements instead of the executor: a transaction's pipeline
   * (src/db/pipeline.ts), so the insert rides with the transaction's other writes; `queued`
   * is called once the last statement was handed to `send` (the pipeline's `track(work, added)`).
   */
  appendMany(
    inputs: AuditEntryInput[],
    executor?: Executor,
    send?: <T>(query: SQL) => Promise<T[]>,
    queued?: () => void,
  ): Promise<PendingAuditEntry[]>;
  /**
   * Entries in sequence order. Readers wait: every entry committed before the call is chained
   * first (`flush`), so a page never misses a recorded change.
   */
  page(options: { after?: number; limit?: number }): Promise<AuditEvent[]>;
  /** Chains every entry committed so far (waits for a running chain pass). */
  flush(): Promise<void>;
  /** Entries committed but not chained yet, and the age of the oldest (database clock). */
  backlog(): Promise<{ entries: number; oldestSeconds: number }>;
  /** Starts chaining in the background: woken after local appends, polling as a backstop. */
  startChaining(options: { onError: (err: unknown) => void; pollMs?: number; paceMs?: number }): void;
  stopChaining(): Promise<void>;
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
  | {
      ok: true;
      count: number;
      lastSeq: number;
      lastHash: string;
      keyedSince: number | null;
      /** Entries recorded but not chained when the walk ended: not covered by this verification. */
      unchained: { entries: number; oldestSeconds: number };
    }
  | { ok: false; count: number; broken: VerifyBreak };

export interface AuditTrailOptions {
  /** QUENCH_AUDIT_KEY: new entries are HMAC-SHA256 links (../../docs/database-roles.md). */
  key?: string | undefined;
  /** Crash-test seam for chain passes. */
  faults?: ChainFaults;
}

/** What `append` returns: the outbox entry, chained later. */
export interface PendingAuditEntry {
  outboxId: number;
  at: Date;
}

/**
 * The lock-free look before an idle pass. The first id by the primary key, not `exists (select 1
 * from audit_outbox)`: that one is a sequential scan, which reads every page the outbox's deleted
 * rows still take until autovacuum reclaims them (after a minute of load, thousands: milliseconds
 * per look); the index holds the same dead entries many to a page.
 */
async function outboxIsEmpty(db: Database): Promise<boolean> {
  const rows = await db.rows<{ id: unknown }>(sql`select id from audit_outbox order by id limit 1`);
  return rows.length === 0;
}

async function backlogOf(db: Database): Promise<{ entries: number; oldestSeconds: number }> {
  const [row] = await db.rows<{ entries: number; oldest: number | null }>(
    sql`select count(*)::int as entries, extract(epoch from clock_timestamp() - min(enqueued_at))::float8 as oldest from audit_outbox`,
  );
  return { entries: Number(row?.entries ?? 0), oldestSeconds: Math.max(0, Number(row?.oldest ?? 0)) };
}

/**
 * The outbox INSERT for a batch of entries: one statement of ten array parameters, whatever the
 * batch size. A drizzle multi-row insert built (and prepared) a new text per row count and
 * mapped every value of every row one by one: for the ingest worker's batches of 100 deliveries
 * that was a sixth of its CPU. Rows are inserted in the order given (`with ordinality … order
 * by n`), so their default ids, the outbox order, ascend in that order; keyed trails bring the
 * ids they drew (and MACed) instead.
 */
function outboxInsert(
  at: Date,
  entries: Array<{ input: AuditEntryInput; data: unknown; correlationId: string | null }>,
  macs: Array<string | null>,
  ids: number[] | undefined,
): SQL {
  const column = (pick: (e: (typeof entries)[number]) => string | null) => pgArray(entries.map(pick));
  const values = sql`from unnest(
      ${column((e) => e.input.actor.type)}::text[], ${column((e) => e.input.actor.id)}::text[], ${column((e) => e.input.action)}::text[],
      ${column((e) => e.input.subject.type)}::text[], ${column((e) => e.input.subject.id)}::text[],
      ${column((e) => JSON.stringify(e.data))}::jsonb[], ${column((e) => e.correlationId)}::text[], ${pgArray(macs)}::text[],
      ${pgArray(ids ?? [])}::bigint[]
    ) with ordinality as t(actor_type, actor_id, action, subject_type, subject_id, data, correlation_id, mac, id, n)`;
  const atParam = sql`${at.toISOString()}::timestamptz`;
  return ids === undefined
    ? sql`insert into audit_outbox (at, actor_type, actor_id, action, subject_type, subject_id, data, correlation_id, mac)
        select ${atParam}, actor_type, actor_id, action, subject_type, subject_id, data, correlation_id, mac ${values} order by n returning id`
    : sql`insert into audit_outbox (id, at, actor_type, actor_id, action, subject_type, subject_id, data, correlation_id, mac)
        select id, ${atParam}, actor_type, actor_id, action, subject_type, subject_id, data, correlation_id, mac ${values} order by n returning id`;
}

/** How long a reader tries to chain before reading what is chained (the lock is normally held for ms). */
const SETTLE_MS = 2_000;
const MODE_CHECK_MS = 10_000;

export function createAuditTrail(db: Database, clock: Clock, options: AuditTrailOptions = {}): AuditTrail {
  const hashers = auditHashers(options.key);
  // The newest entry this process saw or wrote: a chain rewritten or cut behind its back (by a
  // superuser) is refused rather than extended, or keyed afresh as if it had never been keyed.
  const memory: ChainMemory = {};
  const readBacklog = () => backlogOf(db);
  const flush = async () => {
    await chainAll(db, hashers, options.faults, memory);
  };
  // A pass that follows an idle one starts with a lock-free look (one statement, no
  // transaction): most passes soon after an append find its transaction still open and nothing
  // to link. After a pass that linked entries the look is skipped: under load it nearly always
  // found work, so it only added a statement (a scan of the outbox, which grows with its dead rows).
  const loop = createChainLoop({
    pass: async ({ probe }) => (probe && (await outboxIsEmpty(db)) ? 0 : chainPass(db, hashers, { wait: false, faults: options.faults, memory })),
    batch: CHAIN_BATCH,
  });
  /**
   * Readers chain first; when they cannot (a role without INSERT, a missing key, a lock held
   * by someone else for over SETTLE_MS) they still read what is chained, and the chain's own
   * checks say why writes stop. Try-locks, so a session squatting on the lock cannot hang reads.
   */
  const settle = async () => {
    const until = Date.now() + SETTLE_MS;
    for (;;) {
      // mark: false: a reader (a `quench audit verify` process, with no memory of the chain) does
      // not key a plain trail: it may be a keyed one relinked without the key, which verify
      // reports (not_keyed) and a marker would bless. The service keys it at start (`prepare`).
      const n = await chainPass(db, hashers, { wait: false, faults: options.faults, memory, mark: false }).catch(() => 'failed' as const);
      if (n === 'failed') return;
      if (n === 'busy') {
        if (Date.now() > until) return;
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      if (n < CHAIN_BATCH) return;
    }
  };

  /**
   * An append from a process whose key (or lack of one) cannot extend the chain would sit in
   * the outbox and stop every chainer there, so it is refused at once, as appends always were.
   * The head's mode is checked again every MODE_CHECK_MS (it changes once, plain to keyed).
   * Not against `memory`: after a rewrite behind this process's back its entries still carry
   * their MACs and wait in the outbox (the chainer refuses the head) rather than fail the
   * changes they record.
   */
  let modeCheckedAt = -Infinity;
  const writable = async (tx: Executor) => {
    if (Date.now() - modeCheckedAt < MODE_CHECK_MS) return;
    const [row] = await tx.select().from(auditEvents).orderBy(desc(auditEvents.seq)).limit(1);
    const decision = decideAppend(row && fromRow(row), hashers);
    if (decision.kind === 'refuse') throw new QuenchError('audit_chain_broken', decision.reason);
    modeCheckedAt = Date.now();
  };

  const appendMany: AuditTrail['appendMany'] = async (inputs, executor, send, queued) => {
    if (inputs.length === 0) return [];
    const at = new Date(Math.floor(clock.now().getTime()));
    const tx = executor ?? db.orm;
    const run = send ?? (<T>(query: SQL) => db.rows<T>(query, tx));
    try {
      await writable(tx);
      const entries = inputs.map((input) => ({ input, data: normaliseData(input.data), correlationId: input.correlationId ?? null }));
      // Keyed trails: the MAC (over the entry and its outbox id) lets the chainer tell this entry
      // from one inserted, or copied, without the key. The ids are drawn first to be covered.
      let ids: number[] | undefined;
      if (hashers.keyed) {
        const drawn = await run<{ id: string | number }>(
          sql`select nextval(pg_get_serial_sequence('audit_outbox', 'id')) as id from generate_series(1, ${entries.length}::int)`,
        );
        ids = drawn.map((r) => Number(r.id)).sort((a, b) => a - b);
      }
      const macs = entries.map(({ input, data, correlationId }, i) => {
        const id = ids?.[i];
        return id === undefined ? null : hashers.keyed!.hash(pendingFields({ id, at, actor: input.actor, action: input.action, subject: input.subject, data, correlationId }));
      });
      const inserted = run<{ id: string | number }>(outboxInsert(at, entries, macs, ids));
      queued?.();
      const rows = await inserted;
      loop.appended();
      return rows.map((r) => ({ outboxId: Number(r.id), at })).sort((a, b) => a.outboxId - b.outboxId);
    } catch (err) {
      const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
      const what = inputs.map((i) => i.action).join(', ');
      throw new QuenchError('audit_append_failed', `could not append to the audit trail (${what}): ${cause}`, {
        cause: err,
      });
    }
  };

  return {
    mode: hashers.keyed ? 'keyed' : 'plain',

    async prepare() {
      // Entries left by a process that stopped before chaining them come first (as plain links
      // when they were recorded without a key on a plain trail).
      await flush();
      const seen = await db.orm.transaction(async (tx): Promise<SeenHead | undefined> => {
        await tx.execute(sql`select pg_advisory_xact_lock(${CHAINER_LOCK_KEY}::bigint)`);
        const [row] = await tx.select().from(auditEvents).orderBy(desc(auditEvents.seq)).limit(1);
        const head = row && fromRow(row);
        const decision = decideAppend(head, hashers, memory.seen);
        if (decision.kind === 'refuse') throw new QuenchError('audit_chain_broken', decision.reason);
        if (decision.kind === 'append') return head && { seq: head.seq, keyed: decision.mode === 'keyed' };
        // mark_then_append: a key on a plain (or empty) chain.
        const marker = linkEntry(head, keyedMarker(hashers.keyed!.keyId), new Date(Math.floor(clock.now().getTime())), hashers.keyed!.hash);
        await tx.insert(auditEvents).values({
          seq: marker.seq,
          at: marker.at,
          actorType: marker.actor.type,
          actorId: marker.actor.id,
          action: marker.action,
          subjectType: marker.subject.type,
          subjectId: marker.subject.id,
          data: marker.data,
          correlationId: marker.correlationId,
          prevHash: marker.prevHash,
          hash: marker.hash,
        });
        return { seq: marker.seq, keyed: true };
      });
      if (seen) memory.seen = laterHead(memory.seen, seen);
    },

    async head() {
      await settle();
      // What this process saw before the read, not after: a pass of its own (the loop, on another
      // connection) may commit after the read's snapshot and be remembered before its answer.
      const seen = memory.seen;
      const [row] = await db.orm.select().from(auditEvents).orderBy(desc(auditEvents.seq)).limit(1);
      const head = row && fromRow(row);
      // A head rewritten or cut behind this process's back is not published as the one to record.
      const keyed = keyedUnder(head, hashers);
      const regression = headRegression(seen, head, keyed);
      if (regression) throw new QuenchError('audit_chain_broken', regression);
      if (head) memory.seen = laterHead(memory.seen, { seq: head.seq, keyed });
      return head && { seq: head.seq, hash: head.hash };
    },

    async append(input, executor) {
      const [entry] = await appendMany([input], executor);
      return entry!;
    },

    appendMany,

    flush,

    backlog: readBacklog,

    startChaining({ onError, pollMs, paceMs }) {
      loop.start({ onError, pollMs, paceMs });
    },

    stopChaining: () => loop.stop(),

    async page({ after = 0, limit = 100 }) {
      await settle();
      const rows = await db.orm
        .select()
        .from(auditEvents)
        .where(gt(auditEvents.seq, after))
        .orderBy(asc(auditEvents.seq))
        .limit(Math.min(Math.max(limit, 1), 1000));
      return rows.map(fromRow);
    },

    async verify({ batchSize = 1000, onProgress, expected } = {}) {
      await settle();
      // Keyset pages keep memory constant however long the trail is.
      let state: ChainState = initialChainState;
      // Only a read that fails is no verdict: an entry that cannot be hashed (a time a Date cannot
      // hold, data nested deeper than the stack) was stored behind the trigger, as Quench hashed
      // every entry it wrote, so it is a broken entry (exit 1), not an outage (exit 2).
      const check = (row: AuditRow): ReturnType<typeof advanceChain> => {
        try {
          return advanceChain(state, fromRow(row), hashers, expected);
        } catch {
          return { broken: { kind: 'hash_mismatch', seq: row.seq } };
        }
      };
      const unavailable = (err: unknown): QuenchError => {
        if (err instanceof QuenchError) return err;
        // A walk cut short says nothing about the trail: callers must not take it for a verdict
        // (the CLI exits 2, the route answers 503).
        return new QuenchError(
          'database_unavailable',
          `the audit trail could not be read to the end (the database failed after ${state.count} entries verified): ` +
            `${(err as { cause?: Error }).cause?.message ?? (err as Error).message}. No verdict on the trail; verify again once the database answers`,
          { cause: err },
        );
      };
      const read = async <T>(query: () => Promise<T>): Promise<T> => {
        try {
          return await query();
        } catch (err) {
          throw unavailable(err);
        }
      };
      for (;;) {
        const rows = await read(() =>
          db.orm.select().from(auditEvents).where(gt(auditEvents.seq, state.previous.seq)).orderBy(asc(auditEvents.seq)).limit(batchSize),
        );
        for (const row of rows) {
          const step = check(row);
          if ('broken' in step) return { ok: false, count: state.count, broken: step.broken };
          state = step.state;
        }
        onProgress?.(state.count);
        if (rows.length < batchSize) break;
      }
      const broken = finishChain(state, hashers, expected);
      if (broken) return { ok: false, count: state.count, broken };
      const unchained = await read(readBacklog);
      return { ok: true, count: state.count, lastSeq: state.previous.seq, lastHash: state.previous.hash, keyedSince: state.keyedSince, unchained };
    },
  };
}

/**
 * Appends `entries` on a transaction's pipeline (src/db/pipeline.ts): the outbox insert rides
 * with the transaction's other writes, and the pipeline knows when it is on its way, so the
 * transaction can send COMMIT behind it without waiting for its answer (`Pipeline.queued`).
 */
export function appendOnPipeline(audit: Pick<AuditTrail, 'appendMany'>, pl: Pipeline, entries: AuditEntryInput[], tx: Executor): void {
  let added!: () => void;
  const queued = new Promise<void>((resolve) => (added = resolve));
  pl.track(
    audit.appendMany(entries, tx, (query) => pl.add(query), added),
    queued,
  );
}
