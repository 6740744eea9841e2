import { sql } from 'drizzle-orm';
import type { Database } from '../db/database.js';
import { pgArray } from '../db/rows.js';
import type { NewDelivery } from './inbox.js';

/**
 * Group commit for accepted webhooks. Each request still gets its 202 only after its row is
 * committed, but requests that arrive while an insert is in flight wait for it and then go
 * together, as one multi-row INSERT (one round trip, one commit, one WAL flush for all of
 * them). With a free slot (MAX_IN_FLIGHT) a request is inserted at once, so a lone webhook
 * waits for nobody; under load the batches grow by themselves, with no timer.
 *
 * Deduplication is unchanged: ON CONFLICT DO NOTHING on either unique index, within the batch
 * too (a second row with the same key in one INSERT is skipped). RETURNING names the rows
 * inserted; a request whose (source, delivery key) is not among them, or whose key an earlier
 * request of the same batch already took, is a duplicate. A failed INSERT fails every request
 * of its batch (none of them answered 202), so nothing is ever acknowledged without its row.
 */
export const MAX_BATCH = 200;
/** Bodies are up to QUENCH_WEBHOOK_MAX_BYTES each: a batch stops growing past this many bytes. */
export const MAX_BATCH_BYTES = 8 * 1024 * 1024;

interface Waiting {
  delivery: NewDelivery;
  resolve: (stored: { id: number } | undefined) => void;
  reject: (err: unknown) => void;
}

export interface InboxWriter {
  /** Resolves with the new row's id once committed; undefined for a repeat delivery. */
  insert(delivery: NewDelivery): Promise<{ id: number } | undefined>;
}

/**
 * INSERTs in flight at once. On PostgreSQL a few batches on separate pool connections overlap
 * (the server group-commits their WAL flushes); with only one, the 20 senders of the webhooks
 * bench moved in lock-step behind it (half of them waiting while the other half's batch
 * committed). PGlite has one connection that runs one statement at a time: one batch, as large
 * as possible.
 */
export const MAX_IN_FLIGHT = { postgres: 4, pglite: 1 } as const;

export function createInboxWriter(db: Database, maxInFlight: number = MAX_IN_FLIGHT[db.kind]): InboxWriter {
  let queue: Waiting[] = [];
  let inFlight = 0;
  let scheduled = false;

  const insertBatch = async (batch: Waiting[]) => {
    const d = batch.map((w) => w.delivery);
    const rows = await db.rows<{ id: string | number; source: string; delivery_key: string }>(sql`
      insert into ingest_inbox (source, delivery_key, webhook_id, received_at, headers, body, next_attempt_at)
      select source, delivery_key, webhook_id, received_at, headers, body, received_at
      from unnest(
        ${pgArray(d.map((x) => x.source))}::text[],
        ${pgArray(d.map((x) => x.deliveryKey))}::text[],
        ${pgArray(d.map((x) => x.webhookId ?? null))}::text[],
        ${pgArray(d.map((x) => x.receivedAt.toISOString()))}::timestamptz[],
        ${pgArray(d.map((x) => JSON.stringify(x.headers)))}::jsonb[],
        ${pgArray(d.map((x) => x.body))}::text[]
      ) with ordinality as t(source, delivery_key, webhook_id, received_at, headers, body, n)
      order by n
      on conflict do nothing
      returning id, source, delivery_key`);
    // Inserted ids by source, then delivery key: no key string built (and flattened) per row and per request.
    const ids = new Map<string, Map<string, number>>();
    for (const r of rows) {
      let bySource = ids.get(r.source);
      if (!bySource) ids.set(r.source, (bySource = new Map()));
      bySource.set(r.delivery_key, Number(r.id));
    }
    for (const w of batch) {
      const bySource = ids.get(w.delivery.source);
      const id = bySource?.get(w.delivery.deliveryKey);
      bySource?.delete(w.delivery.deliveryKey); // a second request with this key in the batch is the repeat
      w.resolve(id === undefined ? undefined : { id });
    }
  };

  const drain = async () => {
    inFlight++;
    try {
      while (queue.length > 0) {
        let bytes = 0;
        let n = 0;
        while (n < queue.length && n < MAX_BATCH && (n === 0 || bytes + queue[n]!.delivery.body.length <= MAX_BATCH_BYTES)) {
          bytes += queue[n]!.delivery.body.length;
          n++;
        }
        const batch = queue.slice(0, n);
        queue = queue.slice(n);
        await insertBatch(batch).catch((err: unknown) => {
          for (const w of batch) w.reject(err);
        });
      }
    } finally {
      inFlight--;
    }
  };

  return {
    insert(delivery) {
      return new Promise((resolve, reject) => {
        queue.push({ delivery, resolve, reject });
        // Started from the event loop's check phase, not at once: every request whose bytes
        // arrived in the same I/O pass reaches this queue first and goes in the same batch. On
        // PGlite, which runs a statement synchronously inside the call, starting at once made
        // every batch one row: each insert finished before the next request was parsed.
        if (inFlight < maxInFlight && !scheduled) {
          scheduled = true;
          setImmediate(() => {
            scheduled = false;
            if (queue.length > 0) void drain();
          });
        }
      });
    },
  };
}
