import { type SQL, sql } from 'drizzle-orm';
import type { Database } from '../../db/database.js';
import { type Bound, fixed, jsonParam, sendBound } from '../../db/statement.js';
import { engineSteps } from '../schema.js';
import { heldByClaim } from './load.js';

/**
 * Starts (or, after a takeover, resumes) an action attempt.
 *
 * If the step's latest attempt is still `running`, its worker died mid-call: we do not know
 * whether the side effect happened, so the new worker repeats the *same* attempt. Otherwise
 * this is a new attempt with the next number. Either way the idempotency key is the step's:
 * one key per step execution (`<run>:<step key>`), the same for every attempt, takeover and
 * dead-letter re-drive, because an attempt that timed out may still land and only a stable key
 * lets the target deduplicate it against the retry. The attempt number travels separately
 * (`Idempotency-Attempt`). Fenced on the claim token: a worker that lost its claim starts nothing.
 */
export interface AttemptStart {
  /** The run failed while this step was claimed and no attempt is in flight: start nothing. */
  draining?: false;
  attempt: number;
  idempotencyKey: string;
  takeover: boolean;
  deadlineAt: Date | null;
}

export const idempotencyKeyOf = (runId: string, stepKey: string) => `${runId}:${stepKey}`;

export interface AttemptArgs {
  stepId: string;
  runId: string;
  stepKey: string;
  worker: string;
  token: string;
  now: Date;
  stepTimeoutMs: number | null;
  params: unknown;
}

export type AttemptBegun = AttemptStart | { draining: true } | undefined;

export async function beginAttempt(db: Database, args: AttemptArgs): Promise<AttemptBegun> {
  return attemptBegunOf(args, await sendBound<RawAttemptStart>(db.orm, beginAttemptQuery(args)));
}

export interface RawAttemptStart {
  mode: 'takeover' | 'draining' | 'new';
  attempts: number;
  latest_key: string | null;
  deadline_ms: number | null;
}

/**
 * One statement, one round trip, its own commit (or a group's: group-commits.ts): lock the step
 * if this claim still holds it (the fence, as heldByClaim), read the run's state and the latest
 * attempt, then either repeat a `running` attempt (takeover), start nothing (a failing run), or
 * start the next one (step row + attempt row). The data-modifying parts are guarded by the
 * decided `mode`, so exactly one of them writes.
 */
export function beginAttemptQuery(args: AttemptArgs): Bound {
  return beginAttemptStatement(attemptParams(args));
}

/** The placeholders of both attempt-start statements. */
interface AttemptParams {
  stepId: string;
  token: string;
  now: string;
  stepTimeoutMs: number | null;
  worker: string;
  params: string;
  runId: string;
  key: string;
}

const attemptParams = (args: AttemptArgs): AttemptParams => ({
  stepId: args.stepId,
  token: args.token,
  now: args.now.toISOString(),
  stepTimeoutMs: args.stepTimeoutMs,
  worker: args.worker,
  params: JSON.stringify(args.params ?? null),
  runId: args.runId,
  key: idempotencyKeyOf(args.runId, args.stepKey),
});

const p = (name: string) => sql.placeholder(name);
const beginAttemptStatement = fixed<AttemptParams>(sql`
    with st as (
      select s.id, s.attempts, s.deadline_at, s.spec->>'role' as role, r.state as run_state
      from engine_steps s join engine_runs r on r.id = s.run_id
      where s.id = ${p('stepId')} and s.status = 'running' and s.lease_owner = ${p('token')}
      for update of s
    ),
    d as (
      select st.id, st.attempts, a.idempotency_key as latest_key,
        case
          when a.status = 'running' then 'takeover'
          when st.run_state not in ('running', 'waiting', 'pending') and st.role not in ('compensation', 'manual') then 'draining'
          else 'new'
        end as mode,
        coalesce(st.deadline_at, ${p('now')}::timestamptz + ${p('stepTimeoutMs')}::bigint * interval '1 millisecond') as deadline_at
      from st left join engine_attempts a on a.step_id = st.id and a.attempt = st.attempts and st.attempts > 0
    ),
    took as (
      update engine_attempts a set worker = ${p('worker')}, takeovers = a.takeovers + 1
      from d where d.mode = 'takeover' and a.step_id = d.id and a.attempt = d.attempts
      returning a.attempt
    ),
    stepped as (
      -- The rendered parameters are kept on the step: compensation templates read steps.<id>.params.
      update engine_steps s set attempts = d.attempts + 1, deadline_at = d.deadline_at,
        spec = s.spec || jsonb_build_object('params', ${p('params')}::jsonb)
      from d where d.mode = 'new' and s.id = d.id
      returning s.attempts
    ),
    started as (
      insert into engine_attempts (step_id, attempt, run_id, idempotency_key, worker, status, started_at)
      select d.id, d.attempts + 1, ${p('runId')}, ${p('key')}, ${p('worker')}, 'running', ${p('now')}::timestamptz from d where d.mode = 'new'
      returning attempt
    )
    select d.mode, d.attempts, d.latest_key, (extract(epoch from d.deadline_at) * 1000)::float8 as deadline_ms,
      (select count(*) from took) + (select count(*) from stepped) + (select count(*) from started) as written
    from d`);

/**
 * The first attempt of a step this very transaction created already claimed (a chained step:
 * transition.ts `insertClaimedStepStatement`), for prestart.ts. What `beginAttemptQuery` would
 * decide is known without reading: the row is running under this claim's token, has no attempt
 * (so no takeover), and the caller checked the run is active (no draining). So it is the start
 * alone: the step's attempt count, deadline and parameters, and the attempt row, still fenced on
 * the token. Same answer shape as `beginAttemptQuery`.
 */
export function startChainedAttemptQuery(args: AttemptArgs): Bound {
  return startChainedAttemptStatement(attemptParams(args));
}

const startChainedAttemptStatement = fixed<AttemptParams>(sql`
    with stepped as (
      update engine_steps s set attempts = 1,
        deadline_at = ${p('now')}::timestamptz + ${p('stepTimeoutMs')}::bigint * interval '1 millisecond',
        spec = s.spec || jsonb_build_object('params', ${p('params')}::jsonb)
      where s.id = ${p('stepId')} and s.status = 'running' and s.lease_owner = ${p('token')} and s.attempts = 0
      returning s.id, s.deadline_at
    ),
    started as (
      insert into engine_attempts (step_id, attempt, run_id, idempotency_key, worker, status, started_at)
      select id, 1, ${p('runId')}, ${p('key')}, ${p('worker')}, 'running', ${p('now')}::timestamptz from stepped
      returning attempt
    )
    select 'new' as mode, 0 as attempts, null::text as latest_key,
      (extract(epoch from stepped.deadline_at) * 1000)::float8 as deadline_ms,
      (select count(*) from started) as written
    from stepped`);

export function attemptBegunOf(args: Pick<AttemptArgs, 'runId' | 'stepKey'>, rows: RawAttemptStart[]): AttemptBegun {
  const [row] = rows;
  const key = idempotencyKeyOf(args.runId, args.stepKey);
  if (!row) return undefined;
  if (row.mode === 'draining') return { draining: true as const };
  const deadlineAt = row.deadline_ms === null ? null : new Date(Math.round(Number(row.deadline_ms)));
  if (row.mode === 'takeover')
    // The key the interrupted call carried (the same as the step's, except for attempts
    // started before keys became per step).
    return { attempt: row.attempts, idempotencyKey: row.latest_key ?? key, takeover: true, deadlineAt };
  return { attempt: row.attempts + 1, idempotencyKey: key, takeover: false, deadlineAt };
}

/** Records how an attempt ended (a statement of the transaction that records the step's result). */
export function finishAttemptQuery(args: {
  stepId: string;
  attempt: number;
  status: 'succeeded' | 'failed' | 'timed_out';
  output?: unknown;
  error?: unknown;
  now: Date;
}): Bound {
  return finishAttemptStatement({
    stepId: args.stepId,
    attempt: args.attempt,
    status: args.status,
    output: jsonParam(args.output),
    error: jsonParam(args.error),
    endedAt: args.now.toISOString(),
  });
}

const finishAttemptStatement = fixed<{ stepId: string; attempt: number; status: string; output: string | null; error: string | null; endedAt: string }>(
  sql`update engine_attempts set status = ${p('status')}, output = ${p('output')}::jsonb, error = ${p('error')}::jsonb, ended_at = ${p('endedAt')}::timestamptz
  where step_id = ${p('stepId')} and attempt = ${p('attempt')}::int`,
);

/**
 * Extends a lease while an attempt runs, fenced on the claim token. Returns false when the
 * claim is gone (the step was cancelled, or the lease expired and another claim took over):
 * the caller aborts the action. The new expiry is measured on the lease clock (claim.ts).
 */
export async function heartbeat(db: Database, stepId: string, token: string, leaseMs: number, leaseNow: SQL): Promise<boolean> {
  const rows = await db.orm
    .update(engineSteps)
    .set({ wakeAt: sql`${leaseNow} + ${leaseMs} * interval '1 millisecond'` })
    .where(heldByClaim(stepId, token))
    .returning({ id: engineSteps.id });
  return rows.length > 0;
}
