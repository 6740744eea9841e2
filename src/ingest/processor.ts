import { randomUUID } from 'node:crypto';
import { type SQL, sql } from 'drizzle-orm';
import { type AuditTrail, appendOnPipeline } from '../audit/trail.js';
import type { Clock } from '../core/clock.js';
import type { AuditEntryInput } from '../audit/core/entry.js';
import type { Database, Executor } from '../db/database.js';
import { pipelineOn } from '../db/pipeline.js';
import type { IngestEvent } from './core/alertmanager.js';
import { normaliseDelivery } from './core/normalise.js';
import { type DecisionIo, type DispatchDeps, type Outcome, dispatchEvent, eventJson, indexKey, lookUp } from './dispatch.js';
import { runPendingEffects } from './effects.js';
import { withCarriedContext } from '../telemetry/otel.js';
import { pgArray } from '../db/rows.js';
import { withoutBom } from '../http/body.js';
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

/**
 * A decision transaction's statements on one pipeline (../db/pipeline.ts): reads are waited
 * for, writes are not, and the audit entries of every delivery go in one append at the end
 * (in the order given). `finish` sends that append and waits for everything; a failed
 * statement fails the transaction, which then rolls back whole.
 */
function decisionIo(deps: ProcessorDeps, tx: Executor): DecisionIo & { finish(): Promise<void> } {
  const pl = pipelineOn(tx);
  const entries: AuditEntryInput[] = [];
  return {
    read<T>(query: SQL) {
      // After a failed write every later statement fails as "transaction is aborted": report the write's own error.
      const rows = pl.add<T>(query).catch(async (err: unknown) => {
        await pl.settled();
        throw err;
      });
      // A read its caller no longer waits for (the transaction failed first) is never an unhandled rejection.
      rows.catch(() => {});
      return rows;
    },
    write(query) {
      void pl.add(query);
    },
    audit(entry) {
      entries.push(entry);
    },
    async finish() {
      if (entries.length > 0) appendOnPipeline(deps.audit, pl, entries.splice(0), tx);
      await pl.settled();
    },
  };
}

/**
 * Most events one decision transaction takes. PGlite has one connection, and a transaction
 * holds it: while a notification of 1,000 alerts was decided in one (about 8 s on an idle
 * machine), every other request needing the database, /readyz and the INSERT of any other
 * webhook included, waited for it. Larger deliveries are decided a slice at a time, each slice
 * its own fenced transaction, and whatever waits goes between two slices (10 events: about
 * 80 ms idle; 150-700 ms per request measured at a load of 10 on 2 cores). On PostgreSQL other
 * requests have connections of their own; the slices there only keep a huge notification's
 * locks and undo short.
 */
export const DECISION_EVENTS: Record<Database['kind'], number> = { pglite: 10, postgres: 500 };

/**
 * The decisions for (a slice of) one fenced delivery, queued on the caller's transaction
 * (everything but the fence and decided_at). `accepted`: write the delivery's acceptance
 * entry, once per delivery, with its first slice.
 */
async function decideRow(
  deps: ProcessorDeps,
  io: DecisionIo,
  row: InboxRow,
  events: IngestEvent[],
  accepted: { events: number } | null = { events: events.length },
): Promise<Result[]> {
  const { clock } = deps;
  const results: Result[] = [];
  if (accepted) {
    io.audit({
      actor: { type: 'system', id: 'ingest' },
      action: 'ingest.accepted',
      subject: { type: 'inbox', id: String(row.id) },
      data: { source: row.source, deliveryKey: row.deliveryKey, receivedAt: row.receivedAt.toISOString(), events: accepted.events },
      correlationId: accepted.events === 1 ? (events[0]!.event.correlationId ?? null) : null,
    });
  }
  for (const [i, item] of events.entries()) {
    // A turn for the event loop now and then: on PGlite every statement runs synchronously, and
    // deciding a notification of hundreds of alerts answered no request until it committed.
    if (i > 0 && i % 25 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    // Identities bounded for the unique indexes (dispatch.ts indexKey); short ones unchanged.
    const event = { ...item.event, key: indexKey(item.event.key), correlationId: item.event.correlationId ?? randomUUID() };
    const dedupKey = indexKey(item.dedupKey);
    const inserting = io.read<{ id: string | number }>(
      sql`insert into ingest_events (inbox_id, source, dedup_key, alert_key, type, resolved, correlation_id, outcome, event, group_key, created_at)
          values (${row.id}, ${event.source}, ${dedupKey}, ${event.key}, ${event.type}, ${event.resolved}, ${event.correlationId},
                  'deciding', ${JSON.stringify(eventJson(event, false))}::jsonb, ${event.groupKey ?? null}, ${clock.now().toISOString()}::timestamptz)
          on conflict (source, dedup_key) do nothing
          returning id`,
    );
    // The alert's lock and state travel with the insert, in one round trip (read for nothing when the event is a duplicate).
    const seen = lookUp(io, event);
    const [inserted] = await inserting;
    if (!inserted) {
      await seen;
      results.push({ source: event.source, outcome: 'duplicate' });
      continue;
    }
    const eventId = Number(inserted.id);
    const out = await dispatchEvent(io, deps, { inboxId: row.id, eventId }, event, row.receivedAt, await seen);
    io.write(
      sql`update ingest_events set outcome = ${out.outcome}, playbook = ${out.playbook ?? null},
             group_key = coalesce(${out.groupKey ?? null}, group_key)
           where id = ${eventId}`,
    );
    results.push({
      source: event.source,
      outcome: out.outcome,
      ...(out.playbook ? { playbook: out.playbook } : {}),
      ...(out.incidentKey ? { incidentKey: out.incidentKey } : {}),
    });
  }
  return results;
}

async function decide(deps: ProcessorDeps, row: InboxRow): Promise<Result[]> {
  const { db, clock } = deps;
  const events = normaliseDelivery(row.source, JSON.parse(withoutBom(row.body)), row.receivedAt);
  const slice = DECISION_EVENTS[db.kind];
  // A retry of a sliced delivery whose earlier attempt committed some slices: those events are
  // repeats now (their effects are pending in the outbox), and the delivery was accepted in the trail.
  const resumed =
    events.length > slice &&
    row.attempts > 1 &&
    (await db.rows(sql`select 1 from ingest_events where inbox_id = ${row.id} limit 1`)).length > 0;
  const results: Result[] = [];
  for (let from = 0; from === 0 || from < events.length; from += slice) {
    const last = from + slice >= events.length;
    // Between two slices, a turn of the event loop: requests that arrived meanwhile are read
    // and queue their statements before the next slice takes the connection.
    if (from > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    await db.orm.transaction(async (tx) => {
      const io = decisionIo(deps, tx);
      // Fence: only the attempt that holds the claim may decide; the row lock also keeps a
      // second worker that took over an expired lease out until this commits. Every slice
      // checks it again, so a worker that lost its lease between two slices stops there.
      const [claim] = await io.read(
        sql`select id from ingest_inbox where id = ${row.id} and attempts = ${row.attempts} and decided_at is null for update`,
      );
      if (!claim) throw new LostClaimError(row.id);
      const accepted = from === 0 && !resumed ? { events: events.length } : null;
      const decided = await decideRow(deps, io, row, events.slice(from, from + slice), accepted);
      if (last) io.write(sql`update ingest_inbox set decided_at = ${clock.now().toISOString()}::timestamptz where id = ${row.id}`);
      await io.finish();
      results.push(...decided);
    });
  }
  return results;
}

/** Metrics and log lines for decisions that committed (a rolled-back attempt is never counted). */
function countResults(deps: ProcessorDeps, row: InboxRow, results: Result[]): Record<string, number> {
  const { metrics } = deps;
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
  return outcomes;
}

export async function processDelivery(deps: ProcessorDeps, row: InboxRow): Promise<ProcessResult> {
  const { db, clock } = deps;
  const results = row.decidedAt ? [] : await decide(deps, row);
  const outcomes = countResults(deps, row, results);
  // Runs start inside the trace of the webhook that delivered them (its traceparent is stored with the row).
  const effects = await withCarriedContext(row.headers, () => runPendingEffects(db, deps.runs, row, () => clock.now()));
  if (!(await completeDelivery(db.orm, db, row, clock.now()))) throw new LostClaimError(row.id);
  return { events: results.length, outcomes, effects };
}

/** What became of one delivery of a batch: done, failed (`error`), or handed back unstarted (`released`, on shutdown). */
export interface BatchItem {
  row: InboxRow;
  error?: unknown;
  released?: boolean;
}

/**
 * Processes a claimed batch with the decisions of all its deliveries in ONE transaction: the
 * same fence, decisions and `decided_at` per delivery as processDelivery, in id order, but one
 * commit (and so one batch for the audit chainer) instead of one per delivery; deliveries
 * that left no effect are done in that same commit. Then, per delivery in id order, the
 * pending effects, and completion. Statements go out pipelined (decisionIo): one round trip
 * per delivery, about six statements, plus a few per batch. Counted on the webhooks bench (no
 * playbooks, PostgreSQL): one at a time 14 statements and round trips of ingest plus about 10
 * of the audit chainer; batched, before the pipeline, about 9 round trips per delivery and
 * the chainer's shared by the batch; pipelined, 3.5 times the deliveries processed during
 * the maximum-rate run.
 *
 * The shared transaction takes at most DECISION_EVENTS events (a batch of larger deliveries
 * makes several; one larger than that is processed alone, its decision sliced), so that on
 * PGlite no request waits long for the one connection. If anything in a shared transaction
 * fails, it rolls back whole and each of its deliveries is processed alone (processDelivery),
 * so one bad delivery fails by itself and never takes the batch's others down with it. A crash after the commit leaves each delivery decided: its
 * retry skips to the effects, exactly as after processDelivery's decision.
 */
export async function processBatch(deps: ProcessorDeps, rows: InboxRow[], shouldStop: () => boolean = () => false): Promise<BatchItem[]> {
  const { db, clock } = deps;
  const one = async (row: InboxRow): Promise<BatchItem> => {
    if (shouldStop()) return { row, released: true };
    try {
      await processDelivery(deps, row);
      return { row };
    } catch (error) {
      return { row, error };
    }
  };
  const alone = async (list: InboxRow[]) => {
    const items: BatchItem[] = [];
    for (const row of list) items.push(await one(row));
    return items;
  };
  const ordered = [...rows].sort((a, b) => a.id - b.id);
  if (ordered.length < 2) return alone(ordered);

  // Bodies are parsed before the transaction: one that no longer parses fails alone.
  const pending: Array<{ row: InboxRow; events: IngestEvent[] }> = [];
  for (const row of ordered) {
    if (row.decidedAt) continue;
    try {
      pending.push({ row, events: normaliseDelivery(row.source, JSON.parse(withoutBom(row.body)), row.receivedAt) });
    } catch {
      // processDelivery meets the same error and records it against this delivery.
      return alone(ordered);
    }
  }

  // Deliveries are decided together in groups of at most DECISION_EVENTS events, one
  // transaction each; a delivery larger than that on its own is decided alone, a slice at a time.
  const cap = DECISION_EVENTS[db.kind];
  const groups: Array<typeof pending> = [];
  const apart = new Set<number>();
  let group: typeof pending | undefined;
  let events = 0;
  for (const p of pending) {
    if (p.events.length > cap) {
      apart.add(p.row.id);
      continue;
    }
    if (!group || events + p.events.length > cap) {
      groups.push((group = []));
      events = 0;
    }
    group.push(p);
    events += p.events.length;
  }

  const decided = new Map<number, Result[]>();
  const withEffects = new Set<number>();
  for (const group of groups) {
    try {
      await db.orm.transaction(async (tx) => {
        const decidedHere = new Map<number, Result[]>();
        const io = decisionIo(deps, tx);
        // Fence, as in decide(): each delivery only while this attempt holds its claim.
        const fenced = await io.read<{ id: string | number }>(
          sql`select i.id from ingest_inbox i
                join unnest(${pgArray(group.map((p) => p.row.id))}::bigint[], ${pgArray(group.map((p) => p.row.attempts))}::int[]) as c(id, attempts)
                  on i.id = c.id and i.attempts = c.attempts
               where i.decided_at is null
               order by i.id
                 for update of i`,
        );
        const held = new Set(fenced.map((f) => Number(f.id)));
        for (const { row, events } of group) if (held.has(row.id)) decidedHere.set(row.id, await decideRow(deps, io, row, events));
        if (held.size === 0) return;
        // decided_at for every delivery, and those that left no effect to carry out are done in
        // the same statement (and commit): one update of each row instead of two, no later round trip.
        const now = clock.now().toISOString();
        const marked = io.read<{ id: string | number; quiet: boolean }>(
          sql`update ingest_inbox i
                 set decided_at = ${now}::timestamptz,
                     status = case when q.quiet then 'done' else i.status end,
                     processed_at = case when q.quiet then ${now}::timestamptz else i.processed_at end,
                     completions = i.completions + case when q.quiet then 1 else 0 end,
                     lease_until = case when q.quiet then null else i.lease_until end,
                     last_error = case when q.quiet then null else i.last_error end
                from (select c.id, not exists (select 1 from ingest_effects e where e.inbox_id = c.id and e.done_at is null) as quiet
                        from unnest(${pgArray([...held])}::bigint[]) as c(id)) q
               where i.id = q.id
              returning i.id, q.quiet`,
        );
        await io.finish();
        const quietly = await marked;
        for (const [id, results] of decidedHere) decided.set(id, results);
        for (const m of quietly) if (!m.quiet) withEffects.add(Number(m.id));
      });
    } catch {
      // This group's transaction rolled back: nothing of it stands. Its deliveries one by one,
      // so the failure lands on its own delivery; groups that committed stay decided.
      for (const p of group) {
        decided.delete(p.row.id);
        withEffects.delete(p.row.id);
        apart.add(p.row.id);
      }
    }
  }

  const items: BatchItem[] = [];
  const quiet: BatchItem[] = [];
  for (const row of ordered) {
    if (apart.has(row.id)) {
      items.push(await one(row));
      continue;
    }
    const results = decided.get(row.id);
    if (!row.decidedAt && !results) {
      items.push({ row, error: new LostClaimError(row.id) });
      continue;
    }
    if (results) countResults(deps, row, results);
    // Decided now without effects: completed by the decision's own commit.
    if (results && !withEffects.has(row.id)) {
      quiet.push({ row });
      continue;
    }
    if (shouldStop()) {
      items.push({ row, released: true });
      continue;
    }
    try {
      await withCarriedContext(row.headers, () => runPendingEffects(db, deps.runs, row, () => clock.now()));
      if (!(await completeDelivery(db.orm, db, row, clock.now()))) throw new LostClaimError(row.id);
      items.push({ row });
    } catch (error) {
      items.push({ row, error });
    }
  }
  items.push(...quiet);
  return items;
}
