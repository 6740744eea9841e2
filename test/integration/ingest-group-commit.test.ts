import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { createInboxWriter } from '../../src/ingest/inbox-writer.js';
import type { NewDelivery } from '../../src/ingest/inbox.js';
import type { Database } from '../../src/db/database.js';
import { databaseKinds, freshDatabase, TEST_DATABASE_URL, type TestDatabase } from '../support/databases.js';

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

/** The database with its statements counted (each batch is one). */
function counting(db: Database) {
  const counted = { ...db, statements: 0 };
  counted.rows = (query, executor) => {
    counted.statements++;
    return db.rows(query, executor);
  };
  return counted;
}

describe.each(databaseKinds)('inbox group commit on %s', (kind) => {
  let t: TestDatabase;
  afterEach(async () => t?.dispose());

  it('every first delivery of a key gets its own committed row, every repeat none, in one or many batches', async () => {
    t = await freshDatabase(kind);
    const writer = createInboxWriter(t.db);
    // 60 at once: they go together, as one batch.
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
    // `first` goes alone; the next three, asked for together, share a batch: one body PostgreSQL refuses (NUL in text).
    await new Promise((r) => setImmediate(r));
    const batch = [writer.insert(delivery('ok-1')), writer.insert(delivery('bad', { body: 'nul \u0000 here' })), writer.insert(delivery('ok-2'))];
    expect(await blocker).toBeDefined();
    const settled = await Promise.allSettled(batch);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'rejected']);
    const keys = await t.db.rows<{ delivery_key: string }>(sql`select delivery_key from ingest_inbox order by id`);
    expect(keys.map((k) => k.delivery_key)).toEqual(['first']);
    expect(await writer.insert(delivery('ok-1'))).toBeDefined();
  });

  it('deliveries that arrive together go in one INSERT, even the first (PGlite runs it inside the call)', async () => {
    t = await freshDatabase(kind);
    const db = counting(t.db);
    const writer = createInboxWriter(db);
    const results = await Promise.all(Array.from({ length: 25 }, (_, i) => writer.insert(delivery(`t${i}`))));
    expect(results.every((r) => r !== undefined)).toBe(true);
    expect(db.statements).toBe(1);
  });
});

describe.skipIf(!TEST_DATABASE_URL)('inbox group commit with several INSERTs in flight (PostgreSQL)', () => {
  let t: TestDatabase;
  afterEach(async () => t?.dispose());

  it('a batch held up by a lock does not hold up the next one, and the held one still dedups', async () => {
    t = await freshDatabase('postgres');
    const writer = createInboxWriter(t.db);
    // Another transaction has inserted key 'held' and not committed: an INSERT of the same key waits for it.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let holding!: () => void;
    const held = new Promise<void>((r) => (holding = r));
    const other = t.db.orm.transaction(async (tx) => {
      await t.db.rows(
        sql`insert into ingest_inbox (source, delivery_key, received_at, headers, body, next_attempt_at)
            values ('generic:gc', 'held', now(), '{}'::jsonb, '{}', now())`,
        tx,
      );
      holding();
      await released;
    });
    await held;
    const waiting = writer.insert(delivery('held'));
    await new Promise((r) => setImmediate(r));
    // With one INSERT at a time this would wait behind 'held' until the other transaction ends.
    expect(await writer.insert(delivery('free'))).toBeDefined();
    release();
    await other;
    expect(await waiting).toBeUndefined();
  });
});

