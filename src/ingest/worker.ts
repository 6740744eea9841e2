import type { AuditTrail } from '../audit/trail.js';
import type { Clock } from '../core/clock.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../telemetry/logger.js';
import { INBOX_CHANNEL, type InboxRow, claimDue, failDelivery, pruneProcessed, releaseClaims } from './inbox.js';
import type { IngestMetrics } from './metrics.js';
import type { Waker } from './wake.js';
import { type BatchItem, LostClaimError } from './processor.js';

/**
 * The inbox worker: NOTIFY wakes it as soon as a delivery commits, and a slow poll is the
 * backstop for missed notifications (a dropped LISTEN connection, another replica's insert
 * while this one was busy) and for retries coming due. One loop per process handles a batch
 * in id order, so the deliveries of one sender are processed in arrival order.
 */
export interface WorkerOptions {
  db: Database;
  clock: Clock;
  logger: Logger;
  metrics: IngestMetrics;
  audit: AuditTrail;
  process: (row: InboxRow) => Promise<unknown>;
  /**
   * Optional: processes a whole claimed batch (./processor.ts processBatch, one decision
   * transaction for all of it) and says per delivery what became of it; failures are handled
   * as `process`'s are. Without it each delivery goes through `process` alone.
   */
  processBatch?: (rows: InboxRow[], shouldStop: () => boolean) => Promise<BatchItem[]>;
  /** In-process wake-ups from this process's endpoints (other replicas arrive by NOTIFY). */
  waker?: Waker;
  /** Attempts before an entry is dead-lettered (default 5). */
  maxAttempts?: number;
  /** A claim not completed within this time is taken over (default 60 s). */
  leaseMs?: number;
  batchSize?: number;
  pollMs?: number;
  /**
   * After a pass that found work but less than a full batch, wait this long before claiming
   * again, so that under sustained load deliveries are claimed (and decided, ./processor.ts
   * processBatch) together rather than one by one as each arrives. A delivery arriving after
   * an idle pass is claimed at once, so a lone webhook never waits for it. Default 0.
   */
  lingerMs?: number;
  /**
   * While webhooks keep arriving (this process's endpoints wake the worker), rest after each
   * full batch as long as that batch took, up to this many ms: under sustained load processing
   * then takes at most about half the time it could, and acceptance, which a sender is waiting
   * on, the rest; it never stops. Without arrivals (a backlog drained after an outage) batches
   * follow each other at once. Default 0: no rest.
   */
  maxRestMs?: number;
  /** QUENCH_INBOX_RETENTION: bodies of done and dead deliveries older than this are dropped (./inbox.ts pruneProcessed). */
  retentionMs?: number;
}

/** How often retention runs; it is cheap, and a backlog clears in batches. */
const PRUNE_EVERY_MS = 3_600_000;

/** Exponential back-off, 2 s doubling to at most 5 minutes. */
export const retryDelayMs = (attempt: number) => Math.min(2_000 * 2 ** Math.max(0, attempt - 1), 300_000);

export interface IngestWorker {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Processes everything due now and returns how many entries it handled (tests and `drain`). */
  runOnce(): Promise<number>;
  /** Applies retention now; returns how many deliveries lost their body. */
  prune(): Promise<number>;
}

export function createIngestWorker(o: WorkerOptions): IngestWorker {
  const maxAttempts = o.maxAttempts ?? 5;
  const leaseMs = o.leaseMs ?? 60_000;
  const batchSize = o.batchSize ?? 20;
  const pollMs = o.pollMs ?? 5_000;
  const lingerMs = o.lingerMs ?? 0;
  const maxRestMs = o.maxRestMs ?? 0;
  let running = false;
  /** Wakes from this process's endpoints (or NOTIFY) so far: a change during a batch means deliveries are arriving. */
  let arrivals = 0;
  let endRest: (() => void) | undefined;
  let stopping = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let woken = false;
  let unlisten: (() => Promise<void>) | undefined;
  let unsubscribe: (() => void) | undefined;
  let prunedAt = Number.NEGATIVE_INFINITY;

  const prune = async (): Promise<number> => {
    if (o.retentionMs === undefined) return 0;
    prunedAt = o.clock.now().getTime();
    const pruned = await pruneProcessed(o.db, new Date(prunedAt - o.retentionMs));
    if (pruned > 0) o.logger.info({ pruned, retentionMs: o.retentionMs }, 'inbox retention: bodies of old deliveries dropped');
    return pruned;
  };

  const handle = async (row: InboxRow): Promise<void> => {
    // A row claimed this often without completing keeps killing its worker: stop trying.
    if (row.attempts > maxAttempts)
      return fail(row, new Error(`abandoned ${row.attempts - 1} times (lease expired; did the worker crash?)`));
    try {
      await o.process(row);
    } catch (err) {
      if (err instanceof LostClaimError) return void o.logger.warn({ inboxId: row.id }, err.message);
      await fail(row, err);
    }
  };

  const fail = async (row: InboxRow, err: unknown): Promise<void> => {
    const message = err instanceof Error ? err.message : String(err);
    const retryAt = row.attempts < maxAttempts ? new Date(o.clock.now().getTime() + retryDelayMs(row.attempts)) : undefined;
    const status = await failDelivery(o.db, row, message, retryAt);
    if (status === 'pending') {
      o.metrics.retries.inc({ source: row.source });
      o.logger.warn(
        { inboxId: row.id, source: row.source, attempt: row.attempts, retryAt, err: message },
        'inbox entry failed; will retry',
      );
    } else if (status === 'dead') {
      o.metrics.deadLettered.inc({ source: row.source });
      o.logger.error({ inboxId: row.id, source: row.source, attempts: row.attempts, err: message }, 'inbox entry dead-lettered');
      await o.audit
        .append({
          actor: { type: 'system', id: 'ingest' },
          action: 'ingest.dead_lettered',
          subject: { type: 'inbox', id: String(row.id) },
          data: { source: row.source, attempts: row.attempts, error: message.slice(0, 500) },
        })
        .catch((e) => o.logger.error({ err: e, inboxId: row.id }, 'could not audit a dead letter'));
    }
  };

  /** A batch through `processBatch`: abandoned rows fail first, the rest go together. */
  const handleBatch = async (rows: InboxRow[], processBatch: NonNullable<WorkerOptions['processBatch']>): Promise<void> => {
    const live: InboxRow[] = [];
    for (const row of rows) {
      if (row.attempts > maxAttempts) await handle(row);
      else live.push(row);
    }
    const released: InboxRow[] = [];
    for (const item of await processBatch(live, () => stopping)) {
      if (item.released) released.push(item.row);
      else if (item.error instanceof LostClaimError) o.logger.warn({ inboxId: item.row.id }, item.error.message);
      else if (item.error !== undefined) await fail(item.row, item.error);
    }
    // On shutdown the rest of the batch is handed back at once rather than left to expire.
    if (released.length > 0) await releaseClaims(o.db, released, o.clock.now());
  };

  /** Sleeps `ms` unless stop() comes first; arrivals do not end it. */
  const rest = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      endRest = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => (endRest = undefined));

  /** Passes until a batch is not full; `paced`: the service's loop, which rests under load (maxRestMs). */
  const passes = async (paced: boolean): Promise<number> => {
    let handled = 0;
    for (;;) {
      const startedAt = performance.now();
      const arrivedBefore = arrivals;
      const rows = await claimDue(o.db, o.clock.now(), leaseMs, batchSize);
      if (o.processBatch && rows.length > 1) {
        await handleBatch(rows, o.processBatch);
        handled += rows.length;
        if (rows.length < batchSize || stopping) return handled;
        if (paced && maxRestMs > 0 && arrivals !== arrivedBefore && running) await rest(Math.min(maxRestMs, performance.now() - startedAt));
        continue;
      }
      for (const [i, row] of rows.entries()) {
        // On shutdown, hand the rest of the batch back at once rather than let the claims expire.
        if (stopping) {
          await releaseClaims(o.db, rows.slice(i), o.clock.now());
          return handled;
        }
        await handle(row);
        handled++;
      }
      if (rows.length < batchSize || stopping) return handled;
    }
  };
  const runOnce = () => passes(false);

  const sleep = () =>
    new Promise<void>((resolve) => {
      if (woken || !running) return resolve();
      const timer = setTimeout(resolve, pollMs);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const run = async () => {
    while (running) {
      woken = false;
      try {
        const handled = await passes(true);
        if (lingerMs > 0 && handled > 0 && handled < batchSize && running) await new Promise((r) => setTimeout(r, lingerMs));
        if (o.clock.now().getTime() - prunedAt >= PRUNE_EVERY_MS) await prune();
      } catch (err) {
        // The database is unreachable or similar: keep the loop alive and try again after the poll interval.
        o.logger.error({ err }, 'inbox worker iteration failed');
      }
      await sleep();
      wake = undefined;
    }
  };

  const poke = () => {
    arrivals++;
    woken = true;
    wake?.();
  };

  return {
    name: 'ingest-worker',
    runOnce,
    prune,
    async start() {
      running = true;
      unlisten = await o.db.listen(INBOX_CHANNEL, poke);
      unsubscribe = o.waker?.onWake(poke);
      loop = run();
    },
    async stop() {
      running = false;
      stopping = true;
      endRest?.();
      poke();
      unsubscribe?.();
      o.waker?.stop();
      await loop;
      await unlisten?.();
    },
  };
}
