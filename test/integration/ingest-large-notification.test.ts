import { afterEach, describe, expect, it } from 'vitest';
import { createAuditTrail } from '../../src/audit/trail.js';
import { ManualClock } from '../../src/core/clock.js';
import { claimDue, insertDelivery } from '../../src/ingest/inbox.js';
import { createIngestMetrics } from '../../src/ingest/metrics.js';
import { type ProcessorDeps, processDelivery } from '../../src/ingest/processor.js';
import type { RunPort } from '../../src/ingest/runs.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { freshDatabase, type TestDatabase } from '../support/databases.js';
import { alertmanagerBody } from '../support/ingest-webhooks.js';
import { testPlaybook } from '../support/ingest-pipeline.js';

/**
 * One Alertmanager notification may hold hundreds of alerts (a node down takes every pod's
 * alert with it; max_alerts is unlimited by default). PGlite runs each statement synchronously
 * in the process, so processing such a delivery as one unbroken chain of promises answered no
 * request at all until it was done: found by sweeping a live `quench serve` on PGlite, where a
 * 1,000-alert notification held every answer, /healthz included, for 40 to 53 s.
 */
const ALERTS = 100;
const playbook = testPlaybook('node-down', [{ source: 'alertmanager', labels: { alertname: 'NodeDown' } }]);

describe('a notification of hundreds of alerts on PGlite', () => {
  let t: TestDatabase;
  afterEach(async () => t?.dispose());

  it('leaves the event loop turns to answer requests while it is decided and its effects run', async () => {
    t = await freshDatabase('pglite');
    const clock = new ManualClock('2026-11-21T19:00:00Z');
    const started: string[] = [];
    let signals = 0;
    const runs: RunPort = {
      findRun: async (handle) => (started.includes(handle) ? `run-${handle}` : undefined),
      start: async ({ correlationId }) => {
        started.push(correlationId);
        return { runId: `run-${correlationId}` };
      },
      signal: async () => void signals++,
    };
    const deps: ProcessorDeps = {
      db: t.db,
      clock,
      audit: createAuditTrail(t.db, clock),
      metrics: createIngestMetrics(createMetrics().registry, async () => ({ lagSeconds: 0, pending: 0 })),
      runs,
      playbooks: () => [playbook.definition],
    };
    const alerts = Array.from({ length: ALERTS }, (_, i) => ({ labels: { alertname: 'NodeDown', pod: `pod-${i}` }, fingerprint: `fp${i}` }));
    await insertDelivery(t.db, { source: 'alertmanager', deliveryKey: 'big', receivedAt: clock.now(), headers: {}, body: alertmanagerBody(alerts, '{}:{alertname="NodeDown"}') });
    const [row] = await claimDue(t.db, clock.now(), 60_000, 1);

    // What a request needs: turns of the event loop while the delivery is processed.
    let turns = 0;
    let ticking = true;
    const tick = () => {
      if (!ticking) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    const result = await processDelivery(deps, row!);
    ticking = false;

    expect(result.events).toBe(ALERTS);
    expect(started).toHaveLength(1);
    expect(signals).toBe(ALERTS - 1); // every other alert joined the run: alert.attached
    // At least a turn per effect carried out (one per alert), and one per 25 events decided after the first 25.
    expect(turns).toBeGreaterThanOrEqual(ALERTS + Math.floor((ALERTS - 1) / 25));
  });
});
