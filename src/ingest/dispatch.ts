import { sql } from 'drizzle-orm';
import type { AuditTrail } from '../audit/trail.js';
import { durationMs } from '../playbooks/core/duration.js';
import type { Database, Executor } from '../db/database.js';
import type { TriggerEvent } from '../triggers/event.js';
import { type RouteDecision, route } from './core/route.js';
import type { PlaybookSource, RunPort } from './runs.js';

/**
 * What happens to one new (not duplicate) event, inside the processing transaction:
 *
 * - a resolution goes to the runs its alert started or joined (`alert.resolved`);
 * - a follow-up of a firing alert (PagerDuty acknowledged/annotated, a repeat) is signalled to
 *   those runs and never starts another;
 * - a firing older than its alert's recorded resolution is stale (deliveries can be processed
 *   out of order across replicas) and starts nothing;
 * - anything else is routed: unrouted, joins the open run of its storm group, or starts a run.
 *
 * Per-alert and per-group advisory locks serialise concurrent workers on the same alert or
 * group, so two replicas cannot both start a run for one storm.
 */
export interface DispatchDeps {
  db: Database;
  runs: RunPort;
  playbooks: PlaybookSource;
  audit: AuditTrail;
}

export interface Outcome {
  outcome: 'started' | 'joined' | 'signalled' | 'resolved' | 'resolved_unknown' | 'repeat' | 'stale' | 'unrouted';
  playbook?: string;
  runId?: string;
  runIds?: string[];
  groupKey?: string;
}

const actor = { type: 'system', id: 'ingest' } as const;

/** The event as plain JSON for signals and the audit trail (dates as RFC 3339). */
export function eventJson(e: TriggerEvent, withPayload = true): Record<string, unknown> {
  const { payload, ...rest } = e;
  return { ...rest, occurredAt: e.occurredAt.toISOString(), ...(withPayload && payload !== undefined ? { payload } : {}) };
}

const lock = (db: Database, tx: Executor, key: string) => db.rows(sql`select pg_advisory_xact_lock(hashtext(${key}))`, tx);

export async function dispatchEvent(tx: Executor, deps: DispatchDeps, event: TriggerEvent, receivedAt: Date): Promise<Outcome> {
  const { db, runs, audit } = deps;
  const subject = { type: 'alert', id: `${event.source}:${event.key}`.slice(0, 500) };
  const at = event.occurredAt.toISOString();
  await lock(db, tx, `alert\u0000${event.source}\u0000${event.key}`);
  const [alert] = await db.rows<{ status: string; run_ids: string[] | string; resolved_at: string | Date | null }>(
    sql`select status, run_ids, resolved_at from ingest_alerts where source = ${event.source} and alert_key = ${event.key}`,
    tx,
  );
  const runIds: string[] = alert ? (typeof alert.run_ids === 'string' ? JSON.parse(alert.run_ids) : alert.run_ids) : [];

  const signalAll = async (type: string): Promise<void> => {
    for (const runId of runIds) {
      await runs.signal(tx, runId, type, { event: eventJson(event) });
      await audit.append(
        {
          actor,
          action: 'ingest.signalled',
          subject,
          data: { runId, signal: type, eventType: event.type },
          correlationId: await runCorrelation(db, tx, runId),
        },
        tx,
      );
    }
  };

  if (event.resolved) {
    if (alert?.status === 'resolved') return { outcome: 'repeat', runIds };
    await signalAll('alert.resolved');
    await db.rows(
      sql`insert into ingest_alerts (source, alert_key, status, run_ids, first_seen_at, last_seen_at, resolved_at)
          values (${event.source}, ${event.key}, 'resolved', ${JSON.stringify(runIds)}::jsonb, ${at}::timestamptz, ${at}::timestamptz, ${at}::timestamptz)
          on conflict (source, alert_key) do update set status = 'resolved', last_seen_at = excluded.last_seen_at, resolved_at = excluded.resolved_at`,
      tx,
    );
    return alert ? { outcome: 'resolved', runIds } : { outcome: 'resolved_unknown' };
  }

  if (alert?.status === 'firing') {
    await db.rows(
      sql`update ingest_alerts set last_seen_at = ${at}::timestamptz where source = ${event.source} and alert_key = ${event.key}`,
      tx,
    );
    if (runIds.length === 0) return { outcome: 'repeat' };
    await signalAll(event.type);
    return { outcome: 'signalled', runIds };
  }
  if (alert?.status === 'resolved' && alert.resolved_at && event.occurredAt.getTime() <= new Date(alert.resolved_at).getTime()) {
    return { outcome: 'stale' };
  }

  const decision = route(event, deps.playbooks());
  await audit.append(
    { actor, action: 'ingest.routed', subject, data: routingData(event, decision), correlationId: event.correlationId ?? null },
    tx,
  );
  let outcome: Outcome;
  if (decision.kind === 'unrouted') outcome = { outcome: 'unrouted' };
  else outcome = await startOrJoin(tx, deps, event, decision, receivedAt, subject);
  await db.rows(
    sql`insert into ingest_alerts (source, alert_key, status, run_ids, first_seen_at, last_seen_at)
        values (${event.source}, ${event.key}, 'firing', ${JSON.stringify(outcome.runId ? [outcome.runId] : [])}::jsonb, ${at}::timestamptz, ${at}::timestamptz)
        on conflict (source, alert_key) do update set status = 'firing', run_ids = excluded.run_ids, first_seen_at = excluded.first_seen_at,
           last_seen_at = excluded.last_seen_at, resolved_at = null`,
    tx,
  );
  return outcome;
}

function routingData(event: TriggerEvent, d: RouteDecision): Record<string, unknown> {
  const base = { source: event.source, type: event.type, key: event.key, severity: event.severity ?? null };
  if (d.kind === 'unrouted') return { ...base, decision: 'unrouted' };
  const { kind: _kind, ...rest } = d;
  return { ...base, decision: 'matched', ...rest, groupKey: d.groupKey ?? null };
}

/** The correlation id a run was started with, so every later entry about the run carries it. */
async function runCorrelation(db: Database, tx: Executor, runId: string): Promise<string | null> {
  const [row] = await db.rows<{ correlation_id: string }>(
    sql`select correlation_id from ingest_events where run_id = ${runId} and outcome = 'started' limit 1`,
    tx,
  );
  return row?.correlation_id ?? null;
}

/**
 * Storm control. The window runs from the delivery's arrival (not from processing), so a
 * backlog drained after a restart groups exactly as it would have live.
 */
async function startOrJoin(
  tx: Executor,
  deps: DispatchDeps,
  event: TriggerEvent,
  decision: Extract<RouteDecision, { kind: 'matched' }>,
  receivedAt: Date,
  subject: { type: string; id: string },
): Promise<Outcome> {
  const { db, runs, audit } = deps;
  const { playbook, groupKey } = decision;
  if (groupKey !== undefined) {
    await lock(db, tx, `group\u0000${playbook}\u0000${groupKey}`);
    const [open] = await db.rows<{ run_id: string }>(
      sql`select run_id from ingest_groups where playbook = ${playbook} and group_key = ${groupKey}
            and window_ends_at > ${receivedAt.toISOString()}::timestamptz`,
      tx,
    );
    if (open) {
      await runs.signal(tx, open.run_id, 'alert.attached', { event: eventJson(event) });
      await db.rows(sql`update ingest_groups set members = members + 1 where playbook = ${playbook} and group_key = ${groupKey}`, tx);
      const correlationId = await runCorrelation(db, tx, open.run_id);
      await audit.append({ actor, action: 'ingest.joined', subject, data: { runId: open.run_id, playbook, groupKey }, correlationId }, tx);
      return { outcome: 'joined', playbook, runId: open.run_id, groupKey };
    }
  }
  const { runId } = await runs.start(tx, { playbook, event, correlationId: event.correlationId! });
  await audit.append(
    {
      actor,
      action: 'ingest.run_started',
      subject,
      data: { runId, playbook, groupKey: groupKey ?? null },
      correlationId: event.correlationId ?? null,
    },
    tx,
  );
  if (groupKey !== undefined) {
    const opened = receivedAt.toISOString();
    const ends = new Date(receivedAt.getTime() + durationMs(decision.window)).toISOString();
    await db.rows(
      sql`insert into ingest_groups (playbook, group_key, run_id, opened_at, window_ends_at, members)
          values (${playbook}, ${groupKey}, ${runId}, ${opened}::timestamptz, ${ends}::timestamptz, 1)
          on conflict (playbook, group_key) do update set run_id = excluded.run_id, opened_at = excluded.opened_at,
             window_ends_at = excluded.window_ends_at, members = 1`,
      tx,
    );
  }
  return { outcome: 'started', playbook, runId, ...(groupKey !== undefined ? { groupKey } : {}) };
}
