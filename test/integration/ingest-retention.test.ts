import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditTrail } from '../../src/audit/trail.js';
import { ManualClock } from '../../src/core/clock.js';
import { claimDue, completeDelivery, failDelivery, inboxStats, insertDelivery, releaseClaims, retryDead } from '../../src/ingest/inbox.js';
import { createIngestMetrics } from '../../src/ingest/metrics.js';
import { createIngestWorker } from '../../src/ingest/worker.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';

// Issue 9 §4: the inbox kept every body forever. QUENCH_INBOX_RETENTION drops the bodies of
// done and dead deliveries once they are old enough, and keeps the keys deduplication needs.
const DAY = 86_400_000;
const delivery = (key: string, at: Date) => ({
  source: 'generic:ci',
  deliveryKey: key,
  webhookId: `wh-${key}`,
  receivedAt: at,
  headers: { 'user-agent': 'ci' },
  body: `{"id":"${key}","email":"someone@example.com"}`,
});

describe.each(databaseKinds)('inbox retention on %s', (kind) => {
  let t: TestDatabase;
  afterEach(async () => t?.dispose());

  it('drops old done and dead bodies only, and a late repeat is still a duplicate', async () => {
    t = await freshDatabase(kind);
    const clock = new ManualClock('2026-11-01T00:00:00Z');
    const worker = createIngestWorker({
      db: t.db,
      clock,
      logger: silentLogger,
      metrics: createIngestMetrics(createMetrics().registry, () => inboxStats(t.db, clock.now())),
      audit: createAuditTrail(t.db, clock),
      retentionMs: 14 * DAY,
      process: async () => {},
    });
    for (const key of ['done-old', 'dead-old', 'pending-old']) await insertDelivery(t.db, delivery(key, clock.now()));
    const [done, dead, pending] = await claimDue(t.db, clock.now(), 60_000, 10);
    expect(await completeDelivery(t.db.orm, t.db, done!, clock.now())).toBe(true);
    expect(await failDelivery(t.db, dead!, 'no playbook', undefined)).toBe('dead');
    await releaseClaims(t.db, [pending!], clock.now());

    clock.advance(13 * DAY);
    await insertDelivery(t.db, delivery('done-recent', clock.now()));
    const [recent] = await claimDue(t.db, clock.now(), 60_000, 10).then((rows) => rows.filter((r) => r.deliveryKey === 'done-recent'));
    expect(await completeDelivery(t.db.orm, t.db, recent!, clock.now())).toBe(true);
    expect(await worker.prune()).toBe(0);

    clock.advance(2 * DAY);
    expect(await worker.prune()).toBe(2);
    const rows = await t.db.rows<{ delivery_key: string; body: string; headers: unknown; status: string }>(
      sql`select delivery_key, body, headers, status from ingest_inbox order by id`,
    );
    const byKey = Object.fromEntries(rows.map((r) => [r.delivery_key, r]));
    expect(byKey['done-old']).toMatchObject({ body: '', status: 'done' });
    expect(byKey['dead-old']).toMatchObject({ body: '', status: 'dead' });
    expect(JSON.stringify(byKey['done-old']!.headers)).toBe('{}');
    expect(byKey['pending-old']!.body).toContain('someone@example.com');
    expect(byKey['done-recent']!.body).toContain('someone@example.com');

    // Deduplication still holds: by delivery key and by X-Webhook-Id.
    expect(await insertDelivery(t.db, delivery('done-old', clock.now()))).toBeUndefined();
    expect(await insertDelivery(t.db, { ...delivery('other-key', clock.now()), webhookId: 'wh-dead-old' })).toBeUndefined();
    // An emptied dead letter cannot be retried (there is nothing left to process).
    expect(await retryDead(t.db, dead!.id, clock.now())).toBe(false);
    expect(await worker.prune()).toBe(0);
  });
});
