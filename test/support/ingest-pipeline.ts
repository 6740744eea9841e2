import { sql } from 'drizzle-orm';
import { createAuditTrail } from '../../src/audit/trail.js';
import { loadConfig } from '../../src/config/load.js';
import { ManualClock } from '../../src/core/clock.js';
import type { Database } from '../../src/db/database.js';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import { engineRunPort } from '../../src/ingest/engine-port.js';
import { insertDelivery } from '../../src/ingest/inbox.js';
import { createIngestMetrics } from '../../src/ingest/metrics.js';
import { processDelivery, type ProcessorDeps } from '../../src/ingest/processor.js';
import type { RunPort } from '../../src/ingest/runs.js';
import { inboxTriggerSink } from '../../src/ingest/sink.js';
import { createIngestWorker } from '../../src/ingest/worker.js';
import { playbookSchema } from '../../src/playbooks/core/playbook-schema.js';
import { playbookHash } from '../../src/playbooks/loader.js';
import { PlaybookStore } from '../../src/playbooks/store.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';

/**
 * What `processDelivery` needs, real but for the runs and the playbooks the test gives: the
 * database's audit trail and fresh metrics (no inbox gauge).
 */
export function processorDeps(
  db: Database,
  clock: ManualClock,
  runs: RunPort,
  playbooks: ProcessorDeps['playbooks'],
): ProcessorDeps {
  return {
    db,
    clock,
    audit: createAuditTrail(db, clock),
    metrics: createIngestMetrics(createMetrics().registry, async () => ({ lagSeconds: 0, pending: 0 })),
    runs,
    playbooks,
  };
}

/**
 * Ingest's processing pipeline on a real database with the real engine: deliveries go into
 * the inbox as the HTTP endpoints put them there, the worker processes them, runs start in
 * the engine. Only the clock is manual.
 */
export function testPlaybook(name: string, triggers: Array<Record<string, unknown>>) {
  const definition = playbookSchema.parse({
    apiVersion: 'quench/v1',
    kind: 'Playbook',
    metadata: { name, owner: 'test' },
    triggers,
    steps: [
      { id: 'untilResolved', kind: 'wait', until: { event: 'alert.resolved' }, timeout: '1h' },
      { id: 'note', kind: 'action', action: 'log', params: { message: 'resolved' } },
    ],
  });
  return { name, hash: playbookHash(definition), file: `${name}.yaml`, definition };
}

export function ingestPipeline(db: Database, options: { runs?: (real: RunPort) => RunPort; maxAttempts?: number } = {}) {
  const clock = new ManualClock('2026-11-21T19:00:00Z');
  const audit = createAuditTrail(db, clock);
  const metrics = createMetrics();
  const config = loadConfig({});
  const engine: Engine = createEngine({ db, audit, clock, logger: silentLogger, config });
  const store = new PlaybookStore();
  const real = engineRunPort(engine, db, () => store);
  const runs = options.runs ? options.runs(real) : real;
  const ingestMetrics = createIngestMetrics(metrics.registry, async () => ({ lagSeconds: 0, pending: 0 }));
  const playbooks = () => store.list().map((p) => p.definition);
  const worker = createIngestWorker({
    db,
    clock,
    logger: silentLogger,
    metrics: ingestMetrics,
    audit,
    maxAttempts: options.maxAttempts ?? 3,
    process: (row) => processDelivery({ db, clock, audit, metrics: ingestMetrics, runs, playbooks }, row),
  });
  let n = 0;
  return {
    clock,
    audit,
    engine,
    store,
    metrics,
    worker,
    sink: inboxTriggerSink({ db, clock, metrics: ingestMetrics }),
    /** Stores a delivery as the HTTP endpoint would, then lets the worker process everything due. */
    async deliver(source: string, body: string, deliveryKey = `k${++n}`) {
      await insertDelivery(db, { source, deliveryKey, receivedAt: clock.now(), headers: {}, body });
      return worker.runOnce();
    },
    runs: () =>
      db.rows<{ id: string; playbook: string; correlation_id: string }>(
        sql`select id, playbook, correlation_id from engine_runs order by created_at, id`,
      ),
    signals: (runId: string) =>
      db.rows<{ type: string; payload: Record<string, unknown> }>(
        sql`select type, payload from engine_events where run_id = ${runId} order by seq`,
      ),
    events: () =>
      db.rows<{ outcome: string; run_id: string | null; alert_key: string; type: string }>(
        sql`select outcome, run_id, alert_key, type from ingest_events order by id`,
      ),
    inbox: () =>
      db.rows<{ id: number; status: string; attempts: number; completions: number; last_error: string | null }>(
        sql`select id::int as id, status, attempts, completions, last_error from ingest_inbox order by id`,
      ),
  };
}
