import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { createInboxWriter } from '../../src/ingest/inbox-writer.js';
import type { NewDelivery } from '../../src/ingest/inbox.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';

/**
 * The webhook path's group commit (src/ingest/inbox-writer.ts): concurrent deliveries share one
 * INSERT. Attacks: repeats inside one batch and across batches (by delivery key and by webhook
 * id), bodies and headers that stress the array encoding, and a batch whose INSERT fails.
 */
const at = new Date('2026-12-01T03:00:00.000Z');
const delivery = (key: string, extra: Partial<NewDelivery> = {}): NewDelivery => ({
  source: 'generic:gc',
  deliveryKey: key,
  receivedAt: at,
  headers: { 'content-type': 'application/json' },
  body: `{"key":"${key}"}`,
  ...extra,
});

describe.each(databaseKinds)('inbox group commit on %s', (kind) => {
  let t: TestDatabase;
  afterEach(async () => t?.dispose());

  it('every first delivery of a key gets its own committed row, every repeat none, in one or many batches', async () => {
    t = await freshDatabase(kind);
    const writer = createInboxWriter(t.db);
    // 60 at once: the first goes alone, the rest queue behind it and go as a batch.
    const keys = Array.from({ length: 60 }, (_, i) => `k${i % 40}`);
    const results = await Promise.all(keys.map((k) => writer.insert(delivery(k))));
    const accepted = results.filter((r) => r !== undefined).map((r) => r!.id);
    expect(accepted).toHaveLength(40);
    expect(new Set(accepted).size).toBe(40);
    // The first request of each key is the one accepted.
    keys.forEach((k, i) => expect(results[i] !== undefined, `${k} #${i}`).toBe(keys.indexOf(k) === i));
    const rows = await t.db.rows<{ id: number; delivery_key: string }>(sql`select id::int, delivery_key from ingest_inbox order by id`);
    expect(rows.map((r) => r.id).sort((a, b) => a - b)).toEqual([...accepted].sort((a, b) => a - b));
    // Later repeats (a new batch) are repeats too.
    expect(await writer.insert(delivery('k3'))).toBeUndefined();
    // Same webhook id under another delivery key: a repeat by the second unique index.
    const first = await Promise.all([writer.insert(delivery('w1', { webhookId: 'hook-1' })), writer.insert(delivery('w2', { webhookId: 'hook-1' }))]);
    expect(first.filter(Boolean)).toHaveLength(1);
  });

  it('bodies and headers come back byte for byte (quotes, backslashes, braces, commas, NULL-like text, unicode)', async () => {
    t = await freshDatabase(kind);
    const writer = createInboxWriter(t.db);
    const bodies = ['{"a":"\\"quoted\\" \\\\ back"}', '{"b":"{,}"}', 'NULL', '{"c":"ünïcødé 🚒"}', '', ' {"d": [1, 2]} '];
    const headers = { 'content-type': 'application/json', 'user-agent': 'a "quoted", {braced} \\ agent' };
    const results = await Promise.all(bodies.map((body, i) => writer.insert(delivery(`b${i}`, { body, headers }))));
    for (const [i, r] of results.entries()) {
      const [row] = await t.db.rows<{ body: string; headers: unknown; received_at: Date | string; webhook_id: string | null }>(
        sql`select body, headers, received_at, webhook_id from ingest_inbox where id = ${r!.id}`,
      );
      expect(row!.body).toBe(bodies[i]);
      expect(typeof row!.headers === 'string' ? JSON.parse(row!.headers) : row!.headers).toEqual(headers);
      expect(new Date(row!.received_at).toISOString()).toBe(at.toISOString());
      expect(row!.webhook_id).toBeNull();
    }
  });

  it('a batch whose INSERT fails fails every request in it; none is acknowledged, the next batch works', async () => {
    t = await freshDatabase(kind);
    const writer = createInboxWriter(t.db);
    const blocker = writer.insert(delivery('first'));
    // Queued behind `first`, so they share a batch: one body PostgreSQL refuses (NUL in text).
    const batch = [writer.insert(delivery('ok-1')), writer.insert(delivery('bad', { body: 'nul \u0000 here' })), writer.insert(delivery('ok-2'))];
    expect(await blocker).toBeDefined();
    const settled = await Promise.allSettled(batch);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'rejected']);
    const keys = await t.db.rows<{ delivery_key: string }>(sql`select delivery_key from ingest_inbox order by id`);
    expect(keys.map((k) => k.delivery_key)).toEqual(['first']);
    expect(await writer.insert(delivery('ok-1'))).toBeDefined();
  });
});
