import { sql } from 'drizzle-orm';
import { addInboxDeadRoutes } from './dlq-routes.js';
import type { Capability, Component, ServiceContext } from '../service.js';
import { engineRunPort } from './engine-port.js';
import { inboxStats } from './inbox.js';
import { createIngestMetrics } from './metrics.js';
import { processBatch, processDelivery } from './processor.js';
import { addWebhookRoutes } from './routes.js';
import type { PlaybookSource, RunPort } from './runs.js';
import { inboxTriggerSink } from './sink.js';
import { createWaker } from './wake.js';
import { createIngestWorker, type IngestWorker } from './worker.js';

/**
 * Installs ingest: the webhook routes, the metrics, the trigger port (SLO burns enter the
 * inbox too) and the inbox worker as a component. `runs` and `playbooks` are read at call
 * time, so the engine and the playbook loader may be installed after ingest.
 */
export interface IngestOptions {
  runs: () => RunPort;
  playbooks: PlaybookSource;
  /**
   * false (QUENCH_INGEST_WORKER=off): an intake replica. Its endpoints accept into the inbox and
   * wake the other replicas' workers, but it processes nothing itself.
   */
  processing?: boolean;
  worker?: { maxAttempts?: number; leaseMs?: number; pollMs?: number; batchSize?: number; retentionMs?: number; lingerMs?: number; maxRestMs?: number };
}

export function installIngest(ctx: ServiceContext, options: IngestOptions): IngestWorker & Component {
  const metrics = createIngestMetrics(
    ctx.metrics.registry,
    () => inboxStats(ctx.db, ctx.clock.now()),
    // ingest_inbox_dead_idx (partial, status = 'dead') keeps this count off the live rows.
    async () => (await ctx.db.rows<{ n: number }>(sql`select count(*)::int as n from ingest_inbox where status = 'dead'`))[0]?.n ?? 0,
  );
  const logger = ctx.logger.child({ component: 'ingest' });
  const waker = createWaker(ctx.db, (err) => logger.warn({ err }, 'could not NOTIFY the inbox workers; they will poll'));
  addWebhookRoutes(ctx.router, { db: ctx.db, clock: ctx.clock, config: ctx.config, metrics, wake: waker.wake });
  addInboxDeadRoutes(ctx.router, { db: ctx.db, clock: ctx.clock, audit: ctx.audit, wake: waker.wake });
  if (ctx.config.QUENCH_ALERTMANAGER_TOKEN === undefined && ctx.config.QUENCH_ALERTMANAGER_USERNAME === undefined) {
    logger.warn(
      'POST /webhooks/alertmanager takes unauthenticated requests: set QUENCH_ALERTMANAGER_TOKEN (or _USERNAME and _PASSWORD) and the same credentials in Alertmanager http_config',
    );
  }
  ctx.ports.triggers = inboxTriggerSink({ db: ctx.db, clock: ctx.clock, metrics, wake: waker.wake });
  const runs: RunPort = {
    findRun: (handle) => options.runs().findRun(handle),
    start: (input) => options.runs().start(input),
    signal: (runId, type, payload, key) => options.runs().signal(runId, type, payload, key),
  };
  const processorDeps = { db: ctx.db, clock: ctx.clock, audit: ctx.audit, metrics, runs, playbooks: options.playbooks, logger };
  const worker = createIngestWorker({
    db: ctx.db,
    clock: ctx.clock,
    logger,
    metrics,
    waker,
    audit: ctx.audit,
    ...options.worker,
    process: (row) => processDelivery(processorDeps, row),
    // A claimed batch is decided in one transaction (one commit, one chainer batch for its audit entries).
    processBatch: (rows, shouldStop) => processBatch(processorDeps, rows, shouldStop),
  });
  if (options.processing !== false) return worker;
  return {
    ...worker,
    async start() {
      logger.warn(
        'QUENCH_INGEST_WORKER=off: this replica accepts webhooks into the inbox but processes none; a replica with QUENCH_INGEST_WORKER=on must run on the same database, or deliveries wait (quench_ingest_inbox_pending and _lag_seconds grow)',
      );
    },
    async stop() {
      // Never started a loop; the endpoints' waker (NOTIFY to the other replicas) still stops.
      waker.stop();
    },
  };
}

/**
 * The worker's linger under sustained load (./worker.ts lingerMs), per database. PGlite runs
 * every statement on the service's one thread, at about 1–2 ms each: one by one, a delivery
 * cost 14 statements to accept and process; claimed in batches, about 8.
 */
const LINGER_MS = { pglite: 50, postgres: 10 } as const;

/**
 * Deliveries claimed (and decided in one transaction) at once. On PostgreSQL a delivery costs
 * one round trip of its own and a batch about six more (claim, fence, decide-and-complete,
 * commit, the chainer's pass): 100 at a time under load instead of 20. PGlite keeps 20: its
 * one connection is shared with the endpoints' inserts, which wait while a batch decides.
 */
const BATCH_SIZE = { pglite: 20, postgres: 100 } as const;

/**
 * Under sustained load the worker rests after each full batch as long as the batch took (./worker.ts
 * maxRestMs), so processing takes about half the time it could and acceptance the rest. On the
 * webhooks bench (2 cores, CPU-bound) processing run flat out cost more CPU per delivery than
 * accepting one, and took it from acceptance; see docs/benchmarks.md.
 */
const MAX_REST_MS = 1_000;

/**
 * `quench serve`'s ingest: routing reads `ports.playbooks` (loaded and reloaded by
 * src/playbooks/capability.ts, installed before ingest) at call time, so a reload takes effect
 * on the next event; runs start through the engine port.
 */
export const ingestCapability: Capability = (ctx) => {
  if (!ctx.ports.playbooks) ctx.logger.warn('no playbook store installed before ingest: every event will be unrouted');
  return installIngest(ctx, {
    runs: () => engineRunPort(ctx.ports.engine, ctx.db, () => ctx.ports.playbooks),
    playbooks: () => (ctx.ports.playbooks?.list() ?? []).map((p) => p.definition),
    processing: ctx.config.QUENCH_INGEST_WORKER,
    worker: {
      leaseMs: ctx.config.QUENCH_INGEST_LEASE_SECONDS * 1000,
      retentionMs: ctx.config.QUENCH_INBOX_RETENTION,
      lingerMs: LINGER_MS[ctx.db.kind],
      batchSize: BATCH_SIZE[ctx.db.kind],
      maxRestMs: MAX_REST_MS,
    },
  });
};
