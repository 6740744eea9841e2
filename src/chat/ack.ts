import type { AuditTrail } from '../audit/trail.js';
import type { Clock } from '../core/clock.js';
import { isQuenchError, QuenchError } from '../core/errors.js';
import type { Database } from '../db/database.js';
import { readRun, stepsOf } from '../engine/sql/load.js';
import { runIncidents, type RunIncident } from '../pagerduty/core/run-incidents.js';
import type { PagerDutyEvents } from '../pagerduty/events.js';
import { acknowledgeThread, thread as threadOf } from './store.js';

/**
 * Acknowledging a run: `/quench ack RUN`, `quench ack RUN` and `POST /v1/runs/:id/ack` all come
 * here, so every path takes the same decision. Anyone identified may acknowledge (it silences
 * a page, it decides nothing). The first acknowledgement is shown on the incident thread's
 * header; every one is audited with who and through which path.
 *
 * The PagerDuty alerts the run triggered (src/pagerduty/core/run-incidents.ts) are acknowledged
 * through the Events API v2 (`event_action: acknowledge`) with the dedup key the trigger used:
 * it needs only the routing key the trigger itself needed, addresses exactly the run's alert,
 * and is idempotent (PagerDuty ignores an acknowledge of an acknowledged alert). The REST API
 * would need a write token and a `From` user, and would have to find the incident first.
 */
export interface AckDeps {
  db: Database;
  audit: AuditTrail;
  clock: Clock;
  /** Undefined when PAGERDUTY_ROUTING_KEY is unset. */
  events: PagerDutyEvents | undefined;
  /** QUENCH_PAGERDUTY_DRILL_ROUTING_KEY's client: a drill run's alerts live under that key. */
  drillEvents?: PagerDutyEvents | undefined;
  /** Redraws the thread header after the first acknowledgement (Slack on). */
  refreshHeader?: (runId: string) => Promise<void>;
}

export interface AckBy {
  /** Audit actor id: a Slack user id, or the API token's user. */
  id: string;
  name: string;
  via: 'slack' | 'api' | 'cli';
}

export type PagerDutyAck =
  | { status: 'acknowledged'; dedupKey: string; triggeredBy: string }
  | { status: 'already_resolved'; dedupKey: string; resolvedBy: string }
  | { status: 'failed'; dedupKey: string; message: string };

export interface AckResult {
  runId: string;
  by: string;
  /** False when the run's incident thread was acknowledged before (then `earlier` says by whom). */
  first: boolean;
  earlier?: string;
  /** One entry per PagerDuty alert the run triggered; empty when it triggered none. */
  pagerduty: PagerDutyAck[];
}

export async function acknowledgeRun(deps: AckDeps, runId: string, by: AckBy): Promise<AckResult> {
  const run = await readRun(deps.db.orm, runId);
  if (!run) throw new QuenchError('not_found', `no run with id ${runId}; \`quench runs\` lists recent runs`);
  const incidents = runIncidents(run.definition.steps, await stepsOf(deps.db.orm, runId));
  const pagerduty: PagerDutyAck[] = [];
  // A dedup key addresses an alert under one routing key: a drill's alerts went through the drill key.
  const events = run.drill ? deps.drillEvents : deps.events;
  for (const incident of incidents) pagerduty.push(await acknowledgeIncident(events, incident, run.drill !== null));

  const first = await acknowledgeThread(deps.db, runId, by.name, deps.clock.now());
  // Not first: the thread was acknowledged before (or there is no thread: Slack off).
  const earlier = first ? undefined : ((await threadOf(deps.db, runId))?.acknowledgedBy ?? undefined);
  await deps.audit.append({
    actor: { type: 'user', id: by.id },
    action: 'run.acknowledged',
    subject: { type: 'run', id: runId },
    data: { name: by.name, via: by.via, first: first || !earlier, pagerduty },
    correlationId: run.correlationId,
  });
  if (first) await deps.refreshHeader?.(runId);
  return { runId, by: by.name, first: first || !earlier, ...(earlier ? { earlier } : {}), pagerduty };
}

async function acknowledgeIncident(events: PagerDutyEvents | undefined, incident: RunIncident, drill: boolean): Promise<PagerDutyAck> {
  const { dedupKey } = incident;
  if (incident.resolvedBy) return { status: 'already_resolved', dedupKey, resolvedBy: incident.resolvedBy };
  if (!events)
    return {
      status: 'failed',
      dedupKey,
      message: `PagerDuty Events API is not configured (set ${drill ? 'QUENCH_PAGERDUTY_DRILL_ROUTING_KEY' : 'PAGERDUTY_ROUTING_KEY'}, the key the run paged with); acknowledge it in PagerDuty`,
    };
  try {
    await events.send({ action: 'acknowledge', dedupKey });
    return { status: 'acknowledged', dedupKey, triggeredBy: incident.triggeredBy };
  } catch (err) {
    return { status: 'failed', dedupKey, message: isQuenchError(err) ? err.message : String(err) };
  }
}

/** The answer a person reads (Slack mrkdwn-safe plain text; the CLI prints it as is). */
export function ackMessage(r: AckResult, code: (s: string) => string = (s) => `\`${s}\``): string {
  const thread = r.earlier
    ? `Run ${code(r.runId)} was already acknowledged by ${r.earlier}; yours is recorded in the audit trail.`
    : `Run ${code(r.runId)} acknowledged by ${r.by}.`;
  if (r.pagerduty.length === 0) return `${thread} It triggered no PagerDuty incident, so there is nothing to acknowledge in PagerDuty.`;
  const lines = r.pagerduty.map((p) =>
    p.status === 'acknowledged'
      ? `PagerDuty incident ${code(p.dedupKey)} (triggered by step ${p.triggeredBy}) acknowledged.`
      : p.status === 'already_resolved'
        ? `PagerDuty incident ${code(p.dedupKey)} was already resolved (step ${p.resolvedBy}); nothing to acknowledge.`
        : `PagerDuty incident ${code(p.dedupKey)} NOT acknowledged: ${p.message}.`,
  );
  return [thread, ...lines].join('\n');
}

/** Did every PagerDuty acknowledgement that was needed go through? (CLI exit code.) */
export const ackSucceeded = (r: AckResult) => r.pagerduty.every((p) => p.status !== 'failed');
