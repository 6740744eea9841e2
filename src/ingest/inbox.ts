import { sql } from 'drizzle-orm';
import type { Database, Executor } from '../db/database.js';

/**
 * The inbox's SQL, one function per operation, with the reasoning beside each query.
 * Timestamps come from the injected clock (not `now()`), so lease and retry logic is tested
 * with a manual clock.
 */

/** Thrown when a worker finds its claim taken over (its lease expired): it stops, the new claimant carries on. */
export class LostClaimError extends Error {
  constructor(id: number) {
    super(`inbox entry ${id} was claimed by another worker (lease expired); this attempt stopped`);
  }
}

/** NOTIFY channel that wakes the ingest workers when a delivery is committed. */
export const INBOX_CHANNEL = 'quench_ingest';

export interface NewDelivery {
  source: string;
  deliveryKey: string;
  webhookId?: string | undefined;
  receivedAt: Date;
  headers: Record<string, string>;
  body: string;
}

export interface InboxRow {
  id: number;
  source: string;
  deliveryKey: string;
  webhookId: string | null;
  receivedAt: Date;
  headers: Record<string, string>;
  body: string;
  status: string;
  attempts: number;
  lastError: string | null;
  /** Set once the routing decisions committed; a retry then only finishes the effects. */
  decidedAt: Date | null;
}

/**
 * One statement, one round trip, autocommitted: the insert and its deduplication (ON CONFLICT
 * on either unique index does nothing). When it returns, the delivery is durable and the 202
 * may go out; the caller then wakes the workers (./wake.ts says why not NOTIFY here). Returns
 * undefined for a repeat.
 */
export async function insertDelivery(db: Database, d: NewDelivery): Promise<{ id: number } | undefined> {
  const at = d.receivedAt.toISOString();
  const rows = await db.rows<{ id: string | number }>(sql`
    insert into ingest_inbox (source, delivery_key, webhook_id, received_at, headers, body, next_attempt_at)
    values (${d.source}, ${d.deliveryKey}, ${d.webhookId ?? null}, ${at}::timestamptz, ${JSON.stringify(d.headers)}::jsonb, ${d.body}, ${at}::timestamptz)
    on conflict do nothing
    returning id`);
  const row = rows[0];
  return row ? { id: Number(row.id) } : undefined;
}

const mapRow = (r: Record<string, unknown>): InboxRow => ({
  id: Number(r.id),
  source: String(r.source),
  deliveryKey: String(r.delivery_key),
  webhookId: (r.webhook_id as string | null) ?? null,
  receivedAt: new Date(r.received_at as string | Date),
  headers: (typeof r.headers === 'string' ? JSON.parse(r.headers) : r.headers) as Record<string, string>,
  body: String(r.body),
  status: String(r.status),
  attempts: Number(r.attempts),
  lastError: (r.last_error as string | null) ?? null,
  decidedAt: r.decided_at ? new Date(r.decided_at as string | Date) : null,
});

/**
 * Claims due deliveries: pending ones whose retry time has come, and processing ones whose
 * lease expired (their worker died). `next_attempt_at` doubles as the lease expiry while a row
 * is processing, so one partial index serves both. SKIP LOCKED lets several workers (or
 * replicas) claim side by side without waiting on each other. `attempts` is the fencing token:
 * completion only succeeds for the attempt that still holds the claim.
 */
export async function claimDue(db: Database, now: Date, leaseMs: number, limit: number): Promise<InboxRow[]> {
  const leaseUntil = new Date(now.getTime() + leaseMs).toISOString();
  const rows = await db.rows(sql`
    update ingest_inbox i
       set status = 'processing', attempts = i.attempts + 1, lease_until = ${leaseUntil}::timestamptz,
           next_attempt_at = ${leaseUntil}::timestamptz
      from (select id from ingest_inbox
             where status in ('pending', 'processing') and next_attempt_at <= ${now.toISOString()}::timestamptz
             order by next_attempt_at, id
             limit ${limit}
             for update skip locked) due
     where i.id = due.id
    returning i.*`);
  return rows.map(mapRow).sort((a, b) => a.id - b.id);
}

/** Marks a claimed delivery done, inside the transaction that applied its effects; false when the claim was lost. */
export async function completeDelivery(tx: Executor, db: Database, row: InboxRow, now: Date): Promise<boolean> {
  const rows = await db.rows(
    sql`update ingest_inbox
           set status = 'done', processed_at = ${now.toISOString()}::timestamptz, completions = completions + 1,
               lease_until = null, last_error = null
         where id = ${row.id} and status = 'processing' and attempts = ${row.attempts}
     returning id`,
    tx,
  );
  return rows.length === 1;
}

/**
 * Records a failed attempt: back to pending with a back-off, or dead once the attempts are
 * spent. Returns the new status, or undefined when another worker holds the claim by now.
 */
export async function failDelivery(
  db: Database,
  row: InboxRow,
  error: string,
  retryAt: Date | undefined,
): Promise<'pending' | 'dead' | undefined> {
  const status = retryAt ? 'pending' : 'dead';
  const rows = await db.rows(sql`
    update ingest_inbox
       set status = ${status}, next_attempt_at = ${(retryAt ?? new Date(0)).toISOString()}::timestamptz,
           lease_until = null, last_error = ${error.replaceAll('\u0000', '').slice(0, 2000)}
     where id = ${row.id} and status = 'processing' and attempts = ${row.attempts}
    returning id`);
  return rows.length === 1 ? status : undefined;
}

/** Gives back claims this worker will not process (shutdown): pending again, the attempt not counted. */
export async function releaseClaims(db: Database, rows: InboxRow[], now: Date): Promise<void> {
  for (const row of rows) {
    await db.rows(sql`
      update ingest_inbox set status = 'pending', attempts = attempts - 1, lease_until = null, next_attempt_at = ${now.toISOString()}::timestamptz
       where id = ${row.id} and status = 'processing' and attempts = ${row.attempts}`);
  }
}

export interface DeadDelivery {
  id: number;
  source: string;
  receivedAt: Date;
  attempts: number;
  lastError: string | null;
}

export async function listDead(db: Database, limit = 100): Promise<DeadDelivery[]> {
  const rows = await db.rows(sql`
    select id, source, received_at, attempts, last_error from ingest_inbox
     where status = 'dead' order by id limit ${limit}`);
  return rows.map((r) => ({
    id: Number(r.id),
    source: String(r.source),
    receivedAt: new Date(r.received_at as string),
    attempts: Number(r.attempts),
    lastError: (r.last_error as string | null) ?? null,
  }));
}

/** Puts a dead delivery back in the queue with fresh attempts; false when it is not dead (or retention emptied its body). */
export async function retryDead(db: Database, id: number, now: Date): Promise<boolean> {
  const rows = await db.rows(sql`
    with upd as (
      update ingest_inbox set status = 'pending', attempts = 0, next_attempt_at = ${now.toISOString()}::timestamptz
       where id = ${id} and status = 'dead' and body <> '' returning id
    )
    select id, pg_notify(${INBOX_CHANNEL}, id::text) from upd`);
  return rows.length === 1;
}

/** For the lag gauge: age of the oldest unprocessed delivery and how many there are. */
export async function inboxStats(db: Database, now: Date): Promise<{ lagSeconds: number; pending: number }> {
  const [row] = await db.rows<{ oldest: string | Date | null; pending: number | string }>(sql`
    select min(received_at) as oldest, count(*)::int as pending
      from ingest_inbox where status in ('pending', 'processing')`);
  const oldest = row?.oldest ? new Date(row.oldest).getTime() : undefined;
  return { lagSeconds: oldest === undefined ? 0 : Math.max(0, (now.getTime() - oldest) / 1000), pending: Number(row?.pending ?? 0) };
}

/**
 * Retention (QUENCH_INBOX_RETENTION): drops the body and headers of done and dead deliveries
 * older than `before`, in batches. The row stays with its deduplication keys (source, delivery
 * key, X-Webhook-Id) and ingest_events keeps its own keys, so a late repeat is still
 * recognised; only the payloads, which may hold personal data, go. Done effects lose their
 * payload copy with them. An emptied body is '' (accepted bodies are never empty: an empty
 * one is refused at the endpoint). Returns how many deliveries were pruned.
 */
export async function pruneProcessed(db: Database, before: Date, batch = 500): Promise<number> {
  const cutoff = before.toISOString();
  let total = 0;
  for (;;) {
    const rows = await db.rows(sql`
      update ingest_inbox set body = '', headers = '{}'::jsonb
       where id in (select id from ingest_inbox
                     where status in ('done', 'dead') and body <> ''
                       and coalesce(processed_at, received_at) < ${cutoff}::timestamptz
                     order by id limit ${batch})
      returning id`);
    total += rows.length;
    if (rows.length < batch) break;
  }
  await db.rows(sql`
    update ingest_effects set payload = '{}'::jsonb
     where done_at < ${cutoff}::timestamptz and payload <> '{}'::jsonb`);
  return total;
}
