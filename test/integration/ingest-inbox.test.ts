import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditTrail } from '../../src/audit/trail.js';
import { ManualClock } from '../../src/core/clock.js';
import { openDatabase } from '../../src/db/database.js';
import { claimDue, completeDelivery, failDelivery, inboxStats, insertDelivery, releaseClaims } from '../../src/ingest/inbox.js';
import { createIngestMetrics } from '../../src/ingest/metrics.js';
import { createIngestWorker } from '../../src/ingest/worker.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { databaseKinds, freshDatabase, TEST_DATABASE_URL, type TestDatabase } from '../support/databases.js';

// The inbox's claim, lease, fencing and release statements, on both databases.
const delivery = (key: string, at: Date) => ({ source: 'generic:ci', deliveryKey: key, receivedAt: at, headers: {}, body: '{}' });

describe.each(databaseKinds)('inbox claims on %s', (kind) => {
  let t: TestDatabase;
  afterEach(async () => t?.dispose());

  it('lets another worker take over an expired lease, and only the current claim completes', async () => {
    t = await freshDatabase(kind);
    const clock = new ManualClock('2026-11-21T19:00:00Z');
    await insertDelivery(t.db, delivery('a', clock.now()));
    const [first] = await claimDue(t.db, clock.now(), 60_000, 10);
    expect(first).toMatchObject({ attempts: 1, status: 'processing' });
    expect(await claimDue(t.db, clock.advance(59_000), 60_000, 10)).toEqual([]);
    const [second] = await claimDue(t.db, clock.advance(2_000), 60_000, 10);
    expect(second).toMatchObject({ id: first!.id, attempts: 2 });
    // The first worker wakes up late: its completion and its failure are both refused.
    expect(await completeDelivery(t.db.orm, t.db, first!, clock.now())).toBe(false);
    expect(await failDelivery(t.db, first!, 'late', undefined)).toBeUndefined();
    expect(await completeDelivery(t.db.orm, t.db, second!, clock.now())).toBe(true);
    const [row] = await t.db.rows<{ status: string; completions: number }>(sql`select status, completions from ingest_inbox`);
    expect(row).toEqual({ status: 'done', completions: 1 });
    expect(await inboxStats(t.db, clock.now())).toEqual({ lagSeconds: 0, pending: 0 });
  });

  it('retries after the back-off, reports lag, and hands unprocessed claims back', async () => {
    t = await freshDatabase(kind);
    const clock = new ManualClock('2026-11-21T19:00:00Z');
    await insertDelivery(t.db, delivery('a', clock.now()));
    await insertDelivery(t.db, delivery('b', clock.now()));
    const claimed = await claimDue(t.db, clock.now(), 60_000, 10);
    expect(claimed.map((r) => r.deliveryKey)).toEqual(['a', 'b']);
    expect(await failDelivery(t.db, claimed[0]!, 'boom', new Date(clock.now().getTime() + 4_000))).toBe('pending');
    await releaseClaims(t.db, [claimed[1]!], clock.now());
    expect((await claimDue(t.db, clock.now(), 60_000, 10)).map((r) => [r.deliveryKey, r.attempts])).toEqual([['b', 1]]);
    expect(await inboxStats(t.db, clock.advance(3_000))).toEqual({ lagSeconds: 3, pending: 2 });
    expect((await claimDue(t.db, clock.advance(1_000), 60_000, 10)).map((r) => [r.deliveryKey, r.attempts])).toEqual([['a', 2]]);
  });

  it('dead-letters an entry whose worker keeps dying before it finishes', async () => {
    t = await freshDatabase(kind);
    const clock = new ManualClock('2026-11-21T19:00:00Z');
    const registry = createMetrics().registry;
    const metrics = createIngestMetrics(registry, () => inboxStats(t.db, clock.now()));
    let processed = 0;
    const worker = createIngestWorker({
      db: t.db,
      clock,
      logger: silentLogger,
      metrics,
      audit: createAuditTrail(t.db, clock),
      maxAttempts: 2,
      process: async () => {
        processed++;
      },
    });
    await insertDelivery(t.db, delivery('poison', clock.now()));
    // Two workers claim it and die (their leases expire); the third claim gives up on it.
    await claimDue(t.db, clock.now(), 1_000, 10);
    await claimDue(t.db, clock.advance(2_000), 1_000, 10);
    clock.advance(2_000);
    expect(await worker.runOnce()).toBe(1);
    expect(processed).toBe(0);
    const [row] = await t.db.rows<{ status: string; last_error: string }>(sql`select status, last_error from ingest_inbox`);
    expect(row!.status).toBe('dead');
    expect(row!.last_error).toMatch(/abandoned 2 times/);
    expect(await registry.metrics()).toMatch(/quench_ingest_dead_lettered_total\{source="generic:ci"\} 1/);
  });
});

describe.skipIf(!TEST_DATABASE_URL)('inbox claims from two connections (PostgreSQL)', () => {
  let t: TestDatabase;
  afterEach(async () => t?.dispose());

  it('never gives one entry to two claimers at once', async () => {
    t = await freshDatabase('postgres');
    const now = new Date('2026-11-21T19:00:00Z');
    for (let i = 0; i < 200; i++) await insertDelivery(t.db, delivery(`d${i}`, now));
    const others = await Promise.all([1, 2, 3].map(() => openDatabase({ url: t.url!, poolMax: 2 })));
    try {
      const claims = await Promise.all(
        [t.db, ...others].map(async (db) => {
          const ids: number[] = [];
          for (;;) {
            const rows = await claimDue(db, now, 60_000, 7);
            if (rows.length === 0) return ids;
            ids.push(...rows.map((r) => r.id));
          }
        }),
      );
      const all = claims.flat();
      expect(all).toHaveLength(200);
      expect(new Set(all).size).toBe(200);
    } finally {
      await Promise.all(others.map((db) => db.close()));
    }
  });
});
