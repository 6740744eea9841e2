import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { AuditTrail } from '../audit/trail.js';
import type { Clock } from '../core/clock.js';
import type { Database } from '../db/database.js';
import { normaliseDelivery } from './core/normalise.js';
import { type DispatchDeps, type Outcome, dispatchEvent, eventJson } from './dispatch.js';
import { type InboxRow, completeDelivery } from './inbox.js';
import type { IngestMetrics } from './metrics.js';

/**
 * Processes one claimed delivery in ONE transaction: the acceptance audit entry, every
 * event's dedup row, its routing, run start or signal, and the delivery's completion. Either
 * all of it commits or none of it does, which is what makes "processed exactly once" hold
 * across crashes: a retry after a rollback starts from a clean slate, and a retry after a
 * commit finds the delivery done (the claim's fencing check) and the events' dedup keys taken.
 *
 * Only SQL runs inside the transaction (the engine port writes rows; it calls nothing
 * outside), so it never waits on anything the database does not control.
 */
export interface ProcessorDeps extends DispatchDeps {
  db: Database;
  clock: Clock;
  audit: AuditTrail;
  metrics: IngestMetrics;
}

export class LostClaimError extends Error {
  constructor(id: number) {
    super(`inbox entry ${id} was claimed by another worker (lease expired); this attempt was rolled back`);
  }
}

export type ProcessResult = { events: number; outcomes: Record<string, number> };

export async function processDelivery(deps: ProcessorDeps, row: InboxRow): Promise<ProcessResult> {
  const { db, audit, clock, metrics } = deps;
  const events = normaliseDelivery(row.source, JSON.parse(row.body), row.receivedAt);
  const results: Array<{ source: string; outcome: Outcome['outcome'] | 'duplicate'; playbook?: string }> = [];

  await db.orm.transaction(async (tx) => {
    results.length = 0;
    await audit.append(
      {
        actor: { type: 'system', id: 'ingest' },
        action: 'ingest.accepted',
        subject: { type: 'inbox', id: String(row.id) },
        data: { source: row.source, deliveryKey: row.deliveryKey, receivedAt: row.receivedAt.toISOString(), events: events.length },
        correlationId: events.length === 1 ? (events[0]!.event.correlationId ?? null) : null,
      },
      tx,
    );
    for (const item of events) {
      const event = { ...item.event, correlationId: item.event.correlationId ?? randomUUID() };
      const [inserted] = await db.rows<{ id: string | number }>(
        sql`insert into ingest_events (inbox_id, source, dedup_key, alert_key, type, resolved, correlation_id, outcome, event, group_key, created_at)
            values (${row.id}, ${event.source}, ${item.dedupKey}, ${event.key}, ${event.type}, ${event.resolved}, ${event.correlationId},
                    'processing', ${JSON.stringify(eventJson(event, false))}::jsonb, ${event.groupKey ?? null}, ${clock.now().toISOString()}::timestamptz)
            on conflict (source, dedup_key) do nothing
            returning id`,
        tx,
      );
      if (!inserted) {
        results.push({ source: event.source, outcome: 'duplicate' });
        continue;
      }
      const out = await dispatchEvent(tx, deps, event, row.receivedAt);
      await db.rows(
        sql`update ingest_events set outcome = ${out.outcome}, playbook = ${out.playbook ?? null}, run_id = ${out.runId ?? null},
               group_key = coalesce(${out.groupKey ?? null}, group_key)
             where id = ${Number(inserted.id)}`,
        tx,
      );
      results.push({ source: event.source, outcome: out.outcome, ...(out.playbook ? { playbook: out.playbook } : {}) });
    }
    if (!(await completeDelivery(tx, db, row, clock.now()))) throw new LostClaimError(row.id);
  });

  // Counted only after the commit, so a rolled-back attempt is never counted twice.
  const outcomes: Record<string, number> = {};
  for (const r of results) {
    outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
    metrics.processed.inc({ source: r.source, outcome: r.outcome });
    if (r.outcome === 'duplicate') metrics.dedupHits.inc({ source: r.source, level: 'event' });
    if (r.outcome === 'unrouted') metrics.unrouted.inc({ source: r.source });
    if (r.outcome === 'joined' && r.playbook) metrics.stormMerges.inc({ playbook: r.playbook });
  }
  return { events: events.length, outcomes };
}
