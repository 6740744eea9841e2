import { sql } from 'drizzle-orm';
import type { Database } from '../../db/database.js';
import type { StepStatus } from '../core/states.js';

/**
 * Claims up to `limit` due steps for one worker.
 *
 * A step is due when its `wake_at` (its durable timer, see schema.ts) has passed: ready
 * steps, retries whose back-off elapsed, waits and human steps whose timeout passed, and
 * running steps whose lease expired because their worker died (a takeover). `FOR UPDATE SKIP
 * LOCKED` lets any number of workers in any number of processes claim side by side: a row
 * another worker is claiming is skipped, never waited for, and never handed out twice. The
 * claimed rows become `running` with this worker's lease in the same statement, so the claim
 * is one round trip; `wake_at` becomes the lease expiry, which is what makes a dead worker's
 * step due again.
 *
 * The time is a parameter, not `now()`, so tests drive it with a manual clock. The partial
 * index on `wake_at` (where not null) keeps the scan to the few rows that can be due.
 */
export interface ClaimedStep {
  id: string;
  runId: string;
  stepKey: string;
  kind: string;
  previousStatus: StepStatus;
  attempts: number;
}

export async function claimDueSteps(db: Database, worker: string, now: Date, leaseMs: number, limit: number): Promise<ClaimedStep[]> {
  const leaseUntil = new Date(now.getTime() + leaseMs);
  const rows = await db.rows<{
    id: string;
    run_id: string;
    step_key: string;
    kind: string;
    previous_status: StepStatus;
    attempts: number;
  }>(sql`
    with due as (
      select id, status as previous_status
      from engine_steps
      where wake_at is not null and wake_at <= ${now.toISOString()}::timestamptz
      order by wake_at
      limit ${limit}
      for update skip locked
    )
    update engine_steps s
    set status = 'running', lease_owner = ${worker}, wake_at = ${leaseUntil.toISOString()}::timestamptz,
        started_at = coalesce(s.started_at, ${now.toISOString()}::timestamptz)
    from due
    where s.id = due.id
    returning s.id, s.run_id, s.step_key, s.kind, due.previous_status, s.attempts`);
  return rows.map((r) => ({
    id: r.id,
    runId: r.run_id,
    stepKey: r.step_key,
    kind: r.kind,
    previousStatus: r.previous_status,
    attempts: r.attempts,
  }));
}
