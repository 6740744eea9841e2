import type { PrestartedAttempt } from '../run-action.js';
import { type SQL, sql } from 'drizzle-orm';
import type { Database } from '../../db/database.js';
import { pgArray } from '../../db/rows.js';
import type { StepStatus } from '../core/states.js';
import type { RunSnapshot } from './load.js';

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
  /**
   * This claim's fencing token (`<worker>/<uuid>`, stored as the step's `lease_owner`). Every
   * heartbeat, attempt start and result names it: a worker whose lease was taken over (even by
   * another slot of its own process) writes nothing.
   */
  token: string;
  /**
   * Set by a worker that can run one more step of this run in the same slot: recording this
   * step's result may then claim the next ready step it creates in the same transaction
   * (transition.ts), handing it back here as `next`. Completion, advance and the next claim
   * are one commit, and the next step needs no wake-up nor a claim round trip.
   */
  chain?: { next?: ClaimedStep };
  /**
   * The run as the commit that claimed this step left it (a chained claim, complete.ts): the
   * executor runs the step on it instead of reading the run again.
   */
  snapshot?: RunSnapshot;
  /**
   * The attempt the commit that chained this action step already started, in that commit
   * (prestart.ts): the executor calls the action without an attempt start of its own.
   */
  started?: PrestartedAttempt;
}

export interface ClaimOptions {
  /** Judge and grant leases by PostgreSQL's `now()` (production) instead of `now`. */
  databaseClock?: boolean;
  /** Steps this process already runs: never claimed again while they run. */
  exclude?: Iterable<string>;
}

/** The time leases are measured against: the database's clock, or the injected one. */
export const leaseTime = (databaseClock: boolean, now: Date): SQL =>
  databaseClock ? sql`now()` : sql`${now.toISOString()}::timestamptz`;

export async function claimDueSteps(
  db: Database,
  worker: string,
  now: Date,
  leaseMs: number,
  limit: number,
  options: ClaimOptions = {},
): Promise<ClaimedStep[]> {
  const leaseNow = leaseTime(options.databaseClock ?? false, now);
  const exclude = [...(options.exclude ?? [])];
  const rows = await db.rows<{
    id: string;
    run_id: string;
    step_key: string;
    kind: string;
    previous_status: StepStatus;
    attempts: number;
    lease_owner: string;
  }>(sql`
    with due as (
      select id, status as previous_status
      from engine_steps
      where wake_at is not null
        and wake_at <= greatest(${now.toISOString()}::timestamptz, ${leaseNow})
        and (case when status = 'running' then wake_at <= ${leaseNow} else wake_at <= ${now.toISOString()}::timestamptz end)
        ${exclude.length > 0 ? sql`and id not in (${sql.join(exclude.map((id) => sql`${id}`), sql`, `)})` : sql``}
      order by wake_at
      limit ${limit}
      for update skip locked
    )
    update engine_steps s
    set status = 'running', lease_owner = ${worker} || '/' || gen_random_uuid()::text,
        wake_at = ${leaseNow} + ${leaseMs} * interval '1 millisecond',
        started_at = coalesce(s.started_at, ${now.toISOString()}::timestamptz)
    from due
    where s.id = due.id
    returning s.id, s.run_id, s.step_key, s.kind, due.previous_status, s.attempts, s.lease_owner`);
  return rows.map((r) => ({
    id: r.id,
    runId: r.run_id,
    stepKey: r.step_key,
    kind: r.kind,
    previousStatus: r.previous_status,
    attempts: r.attempts,
    token: r.lease_owner,
  }));
}

/**
 * Gives back claimed steps this worker will not run — a claim that answered after starts of
 * this process took the slots it was meant for — each as it was before the claim (a takeover
 * stays `running`, its lease expired), due now, so any worker of any replica claims them at
 * once instead of them waiting for this worker's next free slot. Fenced on each claim's token.
 */
export async function releaseClaims(db: Database, steps: ClaimedStep[], now: Date, databaseClock: boolean): Promise<void> {
  const leaseNow = leaseTime(databaseClock, now);
  await db.rows(sql`
    update engine_steps s
    set status = r.previous_status,
        lease_owner = case when r.previous_status = 'running' then s.lease_owner else null end,
        wake_at = case when r.previous_status = 'running' then ${leaseNow} else ${now.toISOString()}::timestamptz end
    from (select unnest(${pgArray(steps.map((c) => c.id))}::text[]) as id,
                 unnest(${pgArray(steps.map((c) => c.token))}::text[]) as token,
                 unnest(${pgArray(steps.map((c) => c.previousStatus))}::text[]) as previous_status) r
    where s.id = r.id and s.lease_owner = r.token`);
}
