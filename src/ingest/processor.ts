import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { AuditTrail } from '../audit/trail.js';
import type { Clock } from '../core/clock.js';
import type { Database } from '../db/database.js';
import { normaliseDelivery } from './core/normalise.js';
import { type DispatchDeps, type Outcome, dispatchEvent, eventJson } from './dispatch.js';
import { runPendingEffects } from './effects.js';
import { withCarriedContext } from '../telemetry/otel.js';
import { type InboxRow, LostClaimError, completeDelivery } from './inbox.js';
import type { IngestMetrics } from './metrics.js';
import type { RunPort } from './runs.js';
import type { Logger } from '../telemetry/logger.js';

/**
 * Processes one claimed delivery in three steps:
 *
 * 1. decide, in ONE transaction: the acceptance audit entry, every event's dedup row, alert
 *    state, routing, storm groups, and the effects (run starts, signals) they imply;
 * 2. carry out the pending effects, each idempotent (./effects.ts);
 * 3. mark the delivery done, fenced by the claim's attempt number.
 *
 * A crash before 1 commits leaves nothing; after it, a retry skips straight to 2 (decided_at
 * is set). That is what makes "processed exactly once" hold across SIGKILL: decisions commit
 * once, effects happen once, and event dedup keys stop a second delivery of the same alert.
 */
export interface ProcessorDeps extends DispatchDeps {
  db: Database;
  clock: Clock;
  audit: AuditTrail;
  metrics: IngestMetrics;
  runs: RunPort;
  logger?: Logger;
}

export { LostClaimError } from './inbox.js';

export type ProcessResult = { events: number; outcomes: Record<string, number>; effects: number };

type Result = { source: string; outcome: Outcome['outcome'] | 'duplicate'; playbook?: string; incidentKey?: string };

async function decide(deps: ProcessorDeps, row: InboxRow): Promise<Result[]> {
  const { db, audit, clock } = deps;
  const events = normaliseDelivery(row.source, JSON.parse(row.body), row.receivedAt);
  const results: Result[] = [];
  await db.orm.transaction(async (tx) => {
    results.length = 0;
    // Fence: only the attempt that holds the claim may decide; the row lock also keeps a
    // second worker that took over an expired lease out until this commits.
    const [claim] = await db.rows(
      sql`select id from ingest_inbox where id = ${row.id} and attempts = ${row.attempts} and decided_at is null for update`,
      tx,
    );
    if (!claim) throw new LostClaimError(row.id);
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
                    'deciding', ${JSON.stringify(eventJson(event, false))}::jsonb, ${event.groupKey ?? null}, ${clock.now().toISOString()}::timestamptz)
            on conflict (source, dedup_key) do nothing
            returning id`,
        tx,
      );
      if (!inserted) {
        results.push({ source: event.source, outcome: 'duplicate' });
        continue;
      }
      const eventId = Number(inserted.id);
      const out = await dispatchEvent(tx, deps, { inboxId: row.id, eventId }, event, row.receivedAt);
      await db.rows(
        sql`update ingest_events set outcome = ${out.outcome}, playbook = ${out.playbook ?? null},
               group_key = coalesce(${out.groupKey ?? null}, group_key)
             where id = ${eventId}`,
        tx,
      );
      results.push({
        source: event.source,
        outcome: out.outcome,
        ...(out.playbook ? { playbook: out.playbook } : {}),
        ...(out.incidentKey ? { incidentKey: out.incidentKey } : {}),
      });
    }
    await db.rows(sql`update ingest_inbox set decided_at = ${clock.now().toISOString()}::timestamptz where id = ${row.id}`, tx);
  });
  return results;
}

export async function processDelivery(deps: ProcessorDeps, row: InboxRow): Promise<ProcessResult> {
  const { db, clock, metrics } = deps;
  const results = row.decidedAt ? [] : await decide(deps, row);
  // Counted only after the decisions committed, so a rolled-back attempt is never counted.
  const outcomes: Record<string, number> = {};
  for (const r of results) {
    outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
    metrics.processed.inc({ source: r.source, outcome: r.outcome });
    if (r.outcome === 'duplicate') metrics.dedupHits.inc({ source: r.source, level: 'event' });
    if (r.outcome === 'unrouted') metrics.unrouted.inc({ source: r.source });
    if (r.outcome === 'joined' && r.playbook) metrics.stormMerges.inc({ playbook: r.playbook });
    if (r.outcome === 'own_incident')
      deps.logger?.info({ source: r.source, incidentKey: r.incidentKey, inboxId: row.id }, 'PagerDuty incident is Quench’s own page: it starts nothing');
  }
  // Runs start inside the trace of the webhook that delivered them (its traceparent is stored with the row).
  const effects = await withCarriedContext(row.headers, () => runPendingEffects(db, deps.runs, row, () => clock.now()));
  if (!(await completeDelivery(db.orm, db, row, clock.now()))) throw new LostClaimError(row.id);
  return { events: results.length, outcomes, effects };
}
