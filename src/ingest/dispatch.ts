import { createHash } from 'node:crypto';
import { type SQL, sql } from 'drizzle-orm';
import type { AuditTrail } from '../audit/trail.js';
import type { AuditEntryInput } from '../audit/core/entry.js';
import { durationMs } from '../playbooks/core/duration.js';
import type { Database } from '../db/database.js';
import type { TriggerEvent } from '../triggers/event.js';
import { type RouteDecision, route } from './core/route.js';
import type { PlaybookSource } from './runs.js';

/**
 * What happens to one new (not duplicate) event, decided inside the processing transaction;
 * engine calls are written as effects (ingest_effects) and carried out after the commit
 * (./effects.ts):
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
  playbooks: PlaybookSource;
  audit: AuditTrail;
}

/**
 * How a decision reaches its transaction (./processor.ts builds it on one pipeline,
 * ../db/pipeline.ts). Statements run in the order given, so a read sees every write queued
 * before it; only reads are waited for. Writes and audit entries are checked, and the entries
 * appended in one statement, before the transaction commits. A delivery used to cost about
 * nine sequential round trips (one per statement); now it costs one, plus one per storm group.
 */
export interface DecisionIo {
  read<T = Record<string, unknown>>(query: SQL): Promise<T[]>;
  write(query: SQL): void;
  audit(entry: AuditEntryInput): void;
}

/** What dispatchEvent reads about an event before deciding: queued by lookUp, ahead of the caller's own read. */
export interface Seen {
  alert: { status: string; run_ids: string[] | string; resolved_at: string | Date | null } | undefined;
  /** A PagerDuty incident's key when it names one of Quench's own runs (ownIncidentKey). */
  own: string | undefined;
}

export interface Outcome {
  outcome: 'started' | 'joined' | 'signalled' | 'resolved' | 'resolved_unknown' | 'repeat' | 'stale' | 'unrouted' | 'own_incident';
  playbook?: string;
  /** The handle of the run started or joined. */
  runHandle?: string;
  runHandles?: string[];
  groupKey?: string;
  /** own_incident: the dedup key that showed the incident is Quench's own page. */
  incidentKey?: string;
}

const actor = { type: 'system', id: 'ingest' } as const;

/** Longest identity (in UTF-8 bytes) kept as it is in a unique index. */
const INDEX_KEY_BYTES = 1024;

/**
 * An identity as the unique indexes can hold it. A btree entry is at most 2,704 bytes, and
 * identities are built from what senders send: a generic event's type and label set, an
 * Alertmanager alert without fingerprint (its labels), a group key of long label values. A
 * longer one failed the decision's INSERT after the 202, every retry alike, until the delivery
 * was dead-lettered. Keys up to 1 KiB stay exactly as before; a longer one becomes its first
 * 200 characters and the SHA-256 of the whole, the same for the same key, so repeats and
 * resolutions still find it.
 */
export function indexKey(key: string): string {
  if (key.length * 3 <= INDEX_KEY_BYTES || Buffer.byteLength(key) <= INDEX_KEY_BYTES) return key;
  return `${key.slice(0, 200)}…sha256:${createHash('sha256').update(key).digest('hex')}`;
}

/** The event as plain JSON for signals and the audit trail (dates as RFC 3339). */
export function eventJson(e: TriggerEvent, withPayload = true): Record<string, unknown> {
  const { payload, ...rest } = e;
  return { ...rest, occurredAt: e.occurredAt.toISOString(), ...(withPayload && payload !== undefined ? { payload } : {}) };
}

const lock = (io: DecisionIo, key: string) => io.write(sql`select pg_advisory_xact_lock(hashtext(${key}))`);

/** Where an event's effects are recorded: its delivery and its ingest_events row. */
export interface EffectTarget {
  inboxId: number;
  eventId: number;
}

function addEffect(
  io: DecisionIo,
  at: EffectTarget,
  e: { kind: 'start' | 'signal'; runHandle: string; playbook?: string; signal?: string; payload: Record<string, unknown> },
) {
  io.write(
    sql`insert into ingest_effects (inbox_id, event_id, kind, run_handle, playbook, signal, payload)
        values (${at.inboxId}, ${at.eventId}, ${e.kind}, ${e.runHandle}, ${e.playbook ?? null}, ${e.signal ?? null}, ${JSON.stringify(e.payload)}::jsonb)`,
  );
}

/**
 * Queues what dispatchEvent reads (the alert's lock, its state, and for PagerDuty whether the
 * incident is Quench's own page) without waiting: the caller sends its own statement in the
 * same flight. The lock comes first, so the reads see the alert as the last holder left it.
 */
export function lookUp(io: DecisionIo, event: TriggerEvent): Promise<Seen> {
  lock(io, JSON.stringify(['alert', event.source, event.key]));
  const alert = io.read<NonNullable<Seen['alert']>>(
    sql`select status, run_ids, resolved_at from ingest_alerts where source = ${event.source} and alert_key = ${event.key}`,
  );
  const own = ownIncidentKey(io, event);
  return Promise.all([alert, own]).then(([[row], key]) => ({ alert: row, own: key }));
}

/** Decides one new event from what lookUp read (`seen`); its writes are queued on `io`. */
export async function dispatchEvent(
  io: DecisionIo,
  deps: DispatchDeps,
  target: EffectTarget,
  event: TriggerEvent,
  receivedAt: Date,
  seen: Seen,
): Promise<Outcome> {
  const subject = { type: 'alert', id: `${event.source}:${event.key}`.slice(0, 500) };
  const at = event.occurredAt.toISOString();
  const { alert, own } = seen;
  const runIds: string[] = alert ? (typeof alert.run_ids === 'string' ? JSON.parse(alert.run_ids) : alert.run_ids) : [];

  const signalAll = (type: string): void => {
    for (const handle of runIds) {
      addEffect(io, target, { kind: 'signal', runHandle: handle, signal: type, payload: { event: eventJson(event) } });
      io.audit({ actor, action: 'ingest.signalled', subject, data: { signal: type, eventType: event.type }, correlationId: handle });
    }
  };

  // Decisions that start and signal nothing are in the trail too, with the reason.
  const ignored = (outcome: 'repeat' | 'stale' | 'resolved_unknown' | 'own_incident', reason: string, extra: Record<string, unknown> = {}): Outcome => {
    io.audit({
      actor,
      action: 'ingest.ignored',
      subject,
      data: { type: event.type, outcome, reason, ...extra },
      correlationId: runIds[0] ?? event.correlationId ?? null,
    });
    return { outcome, runHandles: runIds };
  };

  if (own) {
    // Recorded as an alert that started nothing, so follow-ups without the key (notes) are
    // repeats of it rather than new alerts.
    io.write(
      sql`insert into ingest_alerts (source, alert_key, status, run_ids, first_seen_at, last_seen_at)
          values (${event.source}, ${event.key}, 'firing', '[]'::jsonb, ${at}::timestamptz, ${at}::timestamptz)
          on conflict (source, alert_key) do update set last_seen_at = excluded.last_seen_at`,
    );
    const ignoredOwn = ignored('own_incident', 'the incident is Quench’s own page (its dedup key is a run’s correlation id)', {
      incidentKey: own,
    });
    return { ...ignoredOwn, incidentKey: own };
  }

  if (event.resolved) {
    if (alert?.status === 'resolved') return ignored('repeat', 'the alert is already resolved');
    signalAll('alert.resolved');
    io.write(
      sql`insert into ingest_alerts (source, alert_key, status, run_ids, first_seen_at, last_seen_at, resolved_at)
          values (${event.source}, ${event.key}, 'resolved', ${JSON.stringify(runIds)}::jsonb, ${at}::timestamptz, ${at}::timestamptz, ${at}::timestamptz)
          on conflict (source, alert_key) do update set status = 'resolved', last_seen_at = excluded.last_seen_at, resolved_at = excluded.resolved_at`,
    );
    return alert ? { outcome: 'resolved', runHandles: runIds } : ignored('resolved_unknown', 'no firing alert with this identity was seen');
  }

  if (alert?.status === 'firing') {
    io.write(sql`update ingest_alerts set last_seen_at = ${at}::timestamptz where source = ${event.source} and alert_key = ${event.key}`);
    if (runIds.length === 0) return ignored('repeat', 'the alert is already firing and started no run (it was unrouted)');
    signalAll(event.type);
    return { outcome: 'signalled', runHandles: runIds };
  }
  if (alert?.status === 'resolved' && alert.resolved_at && event.occurredAt.getTime() <= new Date(alert.resolved_at).getTime()) {
    return ignored('stale', 'the alert was resolved after this event occurred (delivered out of order)');
  }

  const decision = route(event, deps.playbooks());
  let outcome: Outcome;
  if (decision.kind === 'unrouted') outcome = { outcome: 'unrouted' };
  else outcome = await startOrJoin(io, target, event, decision, receivedAt, subject);
  // Under the run's correlation id (for a join, the run it joined), so the run's trail has it.
  io.audit({
    actor,
    action: 'ingest.routed',
    subject,
    data: { ...routingData(event, decision), outcome: outcome.outcome },
    correlationId: outcome.runHandle ?? event.correlationId ?? null,
  });
  io.write(
    sql`insert into ingest_alerts (source, alert_key, status, run_ids, first_seen_at, last_seen_at)
        values (${event.source}, ${event.key}, 'firing', ${JSON.stringify(outcome.runHandle ? [outcome.runHandle] : [])}::jsonb, ${at}::timestamptz, ${at}::timestamptz)
        on conflict (source, alert_key) do update set status = 'firing', run_ids = excluded.run_ids, first_seen_at = excluded.first_seen_at,
           last_seen_at = excluded.last_seen_at, resolved_at = null`,
  );
  return outcome;
}

/**
 * A PagerDuty incident opened by Quench itself: `pagerduty.trigger` sends the run's correlation
 * id as the Events v2 dedup key (src/pagerduty/actions.ts), and PagerDuty's V3 webhooks carry
 * it back as the incident's `incident_key`. Routing it would answer Quench's page with another
 * run. The run exists before its page is sent, so the webhook can never arrive first.
 */
async function ownIncidentKey(io: DecisionIo, event: TriggerEvent): Promise<string | undefined> {
  const key = event.source === 'pagerduty' ? event.labels.incident_key : undefined;
  if (!key) return undefined;
  const [run] = await io.read(sql`select 1 as own from engine_runs where correlation_id = ${key} limit 1`);
  return run ? key : undefined;
}

function routingData(event: TriggerEvent, d: RouteDecision): Record<string, unknown> {
  const base = { source: event.source, type: event.type, key: event.key, severity: event.severity ?? null };
  if (d.kind === 'unrouted') return { ...base, decision: 'unrouted' };
  const { kind: _kind, ...rest } = d;
  return { ...base, decision: 'matched', ...rest, groupKey: d.groupKey ?? null };
}

/**
 * Storm control. The window runs from the delivery's arrival (not from processing), so a
 * backlog drained after a restart groups exactly as it would have live.
 */
async function startOrJoin(
  io: DecisionIo,
  target: EffectTarget,
  event: TriggerEvent,
  decision: Extract<RouteDecision, { kind: 'matched' }>,
  receivedAt: Date,
  subject: { type: string; id: string },
): Promise<Outcome> {
  const { playbook } = decision;
  const groupKey = decision.groupKey === undefined ? undefined : indexKey(decision.groupKey);
  if (groupKey !== undefined) {
    lock(io, JSON.stringify(['group', playbook, groupKey]));
    const [open] = await io.read<{ run_id: string }>(
      sql`select run_id from ingest_groups where playbook = ${playbook} and group_key = ${groupKey}
            and window_ends_at > ${receivedAt.toISOString()}::timestamptz`,
    );
    if (open) {
      addEffect(io, target, {
        kind: 'signal',
        runHandle: open.run_id,
        signal: 'alert.attached',
        payload: { event: eventJson(event) },
      });
      io.write(sql`update ingest_groups set members = members + 1 where playbook = ${playbook} and group_key = ${groupKey}`);
      io.audit({ actor, action: 'ingest.joined', subject, data: { playbook, groupKey }, correlationId: open.run_id });
      return { outcome: 'joined', playbook, runHandle: open.run_id, groupKey };
    }
  }
  // The handle is this event's correlation id: the engine gives it to the run it starts.
  const handle = event.correlationId!;
  addEffect(io, target, { kind: 'start', runHandle: handle, playbook, payload: eventJson(event) });
  if (groupKey !== undefined) {
    const opened = receivedAt.toISOString();
    const ends = new Date(receivedAt.getTime() + durationMs(decision.window)).toISOString();
    io.write(
      sql`insert into ingest_groups (playbook, group_key, run_id, opened_at, window_ends_at, members)
          values (${playbook}, ${groupKey}, ${handle}, ${opened}::timestamptz, ${ends}::timestamptz, 1)
          on conflict (playbook, group_key) do update set run_id = excluded.run_id, opened_at = excluded.opened_at,
             window_ends_at = excluded.window_ends_at, members = 1`,
    );
  }
  return { outcome: 'started', playbook, runHandle: handle, ...(groupKey !== undefined ? { groupKey } : {}) };
}
