import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { claimDue, insertDelivery } from '../../src/ingest/inbox.js';
import { processDelivery } from '../../src/ingest/processor.js';
import type { RunPort } from '../../src/ingest/runs.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';
import { alertmanagerBody } from '../support/ingest-webhooks.js';
import { processorDeps, testPlaybook } from '../support/ingest-pipeline.js';

/**
 * Identities are built from what senders send, and a unique index takes at most 2,704 bytes
 * per entry: a generic event's label set, an Alertmanager alert without fingerprint, a storm
 * group of long label values made a key the decision's INSERT refused ('index row size
 * exceeds btree maximum'), after the 202, on every retry, until the delivery was dead. A long
 * identity is now kept as a prefix and its SHA-256: accepted, routed, grouped, and resolved
 * by the same key.
 */
describe.each(databaseKinds)('identities longer than an index entry on %s', (kind) => {
  let t: TestDatabase;
  afterEach(async () => t?.dispose());

  it('are decided, grouped and resolved like short ones', async () => {
    t = await freshDatabase(kind);
    const clock = new ManualClock('2026-11-21T19:00:00Z');
    const started: string[] = [];
    const signals: string[] = [];
    const runs: RunPort = {
      findRun: async (handle) => (started.includes(handle) ? `run-${handle}` : undefined),
      start: async ({ correlationId }) => {
        started.push(correlationId);
        return { runId: `run-${correlationId}` };
      },
      signal: async (_run, type) => void signals.push(type),
    };
    const playbook = testPlaybook('long', [{ source: 'alertmanager', groupBy: ['blob'] }]);
    const deps = processorDeps(t.db, clock, runs, () => [playbook.definition]);
    // Incompressible (random) and multi-byte: 6,000 characters, well over 8 KB of UTF-8.
    const blob = `${randomBytes(3000).toString('base64')}🔥é中`.repeat(1);
    const alert = (i: number, status: 'firing' | 'resolved' = 'firing') => ({ status, labels: { alertname: 'Huge', pod: `p${i}`, blob }, fingerprint: undefined as unknown as string });
    const deliver = async (key: string, alerts: ReturnType<typeof alert>[]) => {
      const body = alertmanagerBody(alerts, `{}:{blob="${blob}"}`).replace(/"fingerprint":"fp\d+",?/g, '').replace(/,}/g, '}');
      await insertDelivery(t.db, { source: 'alertmanager', deliveryKey: key, receivedAt: clock.now(), headers: {}, body });
      const [row] = await claimDue(t.db, clock.now(), 60_000, 1);
      return processDelivery(deps, row!);
    };
    expect((await deliver('one', [alert(1), alert(2)])).outcomes).toEqual({ started: 1, joined: 1 });
    expect((await deliver('two', [alert(1, 'resolved')])).outcomes).toEqual({ resolved: 1 });
    expect(started).toHaveLength(1);
    expect(signals).toEqual(['alert.attached', 'alert.resolved']);
    const [longest] = await t.db.rows<{ n: number }>(sql`select max(octet_length(alert_key))::int as n from ingest_alerts`);
    expect(Number(longest!.n)).toBeLessThan(1024);
    expect(Number((await t.db.rows<{ n: number }>(sql`select count(*)::int as n from ingest_inbox where status = 'done'`))[0]!.n)).toBe(2);
  });
});
