import { TransitionError } from './core/states.js';
import type { StepFailure } from './core/step-error.js';
import { storable } from './core/storable.js';
import type { ClaimedStep } from './sql/claim.js';
import { sql } from 'drizzle-orm';
import { type Pipeline, pipelinedTransaction } from '../db/pipeline.js';
import { pgArray } from '../db/rows.js';
import { fixed, jsonParam } from '../db/statement.js';
import { type RawSnapshot, readRun, type RunSnapshot, runSnapshotOf, runSnapshotQuery, runSnapshotsQuery, withDefinition } from './sql/load.js';
import { notifySafely } from './notify.js';
import { failUnpinned } from './sql/unpinned.js';
import { applyStepResult, chainSlot, type StepResult, type TransitionDeps, type TransitionReport } from './sql/transition.js';
import { engineActor, type RunRow } from './model.js';
import type { Runtime } from './runtime.js';
import { SnapshotError } from './snapshots.js';
import type { Tx } from '../db/database.js';
import type { AuditEntryInput } from '../audit/core/entry.js';
import { appendOnPipeline } from '../audit/trail.js';
import { recordBatched } from './group-commits.js';
import { type Prestart, prestartAttempt, prestarted } from './prestart.js';
import { releaseInDoubt } from './in-doubt.js';
import { messageOf } from '../core/errors.js';

/** How an attempt ended, recorded with the step's result. */
export interface AttemptRecord {
  number: number;
  status: 'succeeded' | 'failed' | 'timed_out';
  output?: unknown;
  error?: unknown;
}

/**
 * Decides the result again inside the recording transaction, under the run lock: a wait step
 * about to record `waiting` re-reads the run's events, so a signal that arrived while it was
 * claimed is not lost (signals take the same lock).
 */
export type Recheck = (tx: Tx, run: RunRow) => Promise<StepResult | undefined>;

/** The claim's worker id (the token is `<worker>/<uuid>`). */
export const workerOf = (claimed: Pick<ClaimedStep, 'token'>) => claimed.token.slice(0, claimed.token.lastIndexOf('/')) || claimed.token;

/** One result on its way into a recording transaction (alone, or in a group: group-commits.ts). */
export interface Recording {
  claimed: ClaimedStep;
  result: StepResult;
  attempt?: AttemptRecord | undefined;
  recheck?: Recheck | undefined;
  now: Date;
  /** What was recorded (a recheck or the storable form may change the result). */
  recorded: StepResult;
  /** A fresh chain slot per try: a rolled-back try's claim of the next step never happened. */
  chain?: TransitionDeps['chain'];
  /** The run as the recording leaves it, for the step it chained: known, or read in the same transaction. */
  nextSnapshot?: RunSnapshot | Promise<RawSnapshot[]>;
  /**
   * Start the chained step's attempt in the same commit (prestart.ts): only on a result's first
   * try, so a start that fails can never keep the result itself from being recorded.
   */
  prestarts?: boolean;
  /** The chained step's attempt start, on this try's pipeline. */
  prestart?: Prestart | undefined;
}

export function recording(rt: Runtime, claimed: ClaimedStep, result: StepResult, attempt?: AttemptRecord, recheck?: Recheck): Recording {
  const now = rt.clock.now();
  const chain = claimed.chain ? chainSlot(rt.options, workerOf(claimed), now) : undefined;
  return { claimed, result, attempt, recheck, now, recorded: result, ...(chain ? { chain } : {}) };
}

/**
 * Applies one result inside a transaction that holds the run and claimed step locked and read
 * `snapshot` after taking the locks: finishes the attempt row and queues the transition's
 * writes on `pl` (settled by the caller before commit). `undefined`: the claim is gone.
 */
export async function applyRecording(
  rt: Runtime,
  tx: Tx,
  pl: Pipeline,
  r: Recording,
  snapshot: RunSnapshot,
  audit: TransitionDeps['audit'] = rt.audit,
): Promise<TransitionReport | undefined> {
  const step = snapshot.rows.find((row) => row.id === r.claimed.id);
  if (!step || step.status !== 'running' || step.leaseOwner !== r.claimed.token) return undefined;
  const run = await withDefinition(tx, snapshot.run);
  r.recorded = storable((r.recheck ? await r.recheck(tx, run) : undefined) ?? r.result);
  // The attempt is finished by the step's own update (transition.ts), in the same statement.
  const finishedAttempt = r.attempt && {
    number: r.attempt.number,
    status: r.attempt.status,
    output: jsonParam(storable(r.attempt.output)),
    error: jsonParam(storable(r.attempt.error)),
  };
  const report = await applyStepResult(
    tx,
    {
      audit,
      catalog: rt.actions,
      now: r.now,
      rows: snapshot.rows,
      pipeline: pl,
      ...(r.chain ? { chain: r.chain } : {}),
      ...(finishedAttempt ? { finishedAttempt } : {}),
    },
    run,
    step,
    r.recorded,
    engineActor(workerOf(r.claimed)),
  );
  // The step this commit claimed for the slot gets the run as the commit leaves it: no read
  // before it runs. Known here when the transition knows every row it wrote (transition.ts
  // `after`), else read last in this transaction.
  if (r.chain?.claimed) {
    if (report.after) {
      const next: RunSnapshot = { run: { ...snapshot.run, ...report.after.run }, rows: report.after.rows, events: snapshot.events };
      r.nextSnapshot = next;
      if (r.prestarts) r.prestart = prestartAttempt(rt, pl, run, next, r.chain.claimed, r.now);
    } else r.nextSnapshot = pl.add<RawSnapshot>(runSnapshotQuery(r.claimed.runId));
  }
  return report;
}

/** After the commit: metrics, the chained step handed to its slot, wake-ups, closed human steps. */
export async function afterRecording(rt: Runtime, r: Recording, report: TransitionReport | undefined): Promise<TransitionReport | undefined> {
  rt.metrics.transitions.inc({ kind: r.claimed.kind, status: report ? r.recorded.status : 'fenced' });
  if (report && r.chain?.claimed) {
    const next = r.nextSnapshot;
    const snapshot = next instanceof Promise ? ((raw) => raw && runSnapshotOf(raw))((await next)[0]) : next;
    const started = r.prestart && (await prestarted(r.prestart, snapshot));
    r.claimed.chain!.next = { ...r.chain.claimed, ...(snapshot ? { snapshot } : {}), ...(started ? { started } : {}) };
  }
  if (report && report.readied > 0) rt.wake.wake();
  if (report && (r.recorded.status === 'retry_wait' || r.recorded.status === 'waiting')) wakeWhenDue(rt, r.recorded.wakeAt);
  if (report) await closeCancelled(rt, r.claimed.runId, report.cancelledHumanSteps);
  return report;
}

/**
 * A step that comes due before the next poll (a retry with a short back-off, a short wait)
 * wakes the workers when it does: a freed slot claims again only when woken (worker.ts).
 */
function wakeWhenDue(rt: Runtime, at: Date | null): void {
  if (!at) return;
  const inMs = at.getTime() - rt.clock.now().getTime();
  if (inMs >= rt.options.pollMs) return;
  if (inMs <= 0) return rt.wake.wake();
  setTimeout(() => rt.wake.wake(), inMs).unref();
}

/**
 * Records a claimed step's result: one short transaction that locks the run, checks the claim
 * is still ours (fenced on the claim token), finishes the attempt row and applies the result.
 * A worker that lost its claim (cancelled run, or a takeover after it stalled) gets
 * `undefined` and its result is dropped: the step's side effect, if any, carried the step's
 * idempotency key, which the new owner reuses. Errors are thrown: use `recordResult`.
 */
export async function completeClaimed(
  rt: Runtime,
  claimed: ClaimedStep,
  result: StepResult,
  attempt?: AttemptRecord,
  recheck?: Recheck,
): Promise<TransitionReport | undefined> {
  const r = recording(rt, claimed, result, attempt, recheck);
  return afterRecording(rt, r, await recordAlone(rt, r));
}

/** The recording transaction of one result (its after-commit part is the caller's). */
export async function recordAlone(rt: Runtime, r: Recording): Promise<TransitionReport | undefined> {
  return (await recordTogether(rt, [r]))[0];
}

/**
 * One recording transaction for one or more results of distinct runs (group-commits.ts), each
 * applied as if alone. The claims still held are locked run then step, runs in id order (two
 * such transactions never deadlock); then the runs are read as they are once locked, one
 * statement for all of them, in the same flight (pipeline.ts: a later statement, so it sees
 * every commit made before the locks were granted). A result whose claim is gone records
 * nothing (`undefined`).
 */
export async function recordTogether(rt: Runtime, batch: Recording[]): Promise<Array<TransitionReport | undefined>> {
  try {
    return await recordInTransaction(rt, batch);
  } catch (err) {
    // The COMMIT may have landed though its answer did not: the next steps it claimed for
    // these slots would then wait out their lease (in-doubt.ts). Fenced on their tokens.
    releaseInDoubt(
      rt,
      batch.flatMap((r) => (r.chain?.claimed ? [r.chain.claimed] : [])),
      batch[0]!.now,
    );
    throw err;
  }
}

async function recordInTransaction(rt: Runtime, batch: Recording[]): Promise<Array<TransitionReport | undefined>> {
  return pipelinedTransaction(rt.db.orm, async (tx, pl) => {
    const held = pl.add<{ id: string }>(
      lockClaimsStatement({ ids: pgArray(batch.map((r) => r.claimed.id)), tokens: pgArray(batch.map((r) => r.claimed.token)) }),
    );
    const read = pl.add<RawSnapshot & { run_id: string }>(runSnapshotsQuery(batch.map((r) => r.claimed.runId)));
    await pl.settled();
    const holding = new Set((await held).map((h) => h.id));
    const snapshots = new Map((await read).map((raw) => [raw.run_id, raw]));
    const out: Array<TransitionReport | undefined> = [];
    // The batch's audit entries in one append, in the order of its results (per run, the
    // order of its transitions); they commit or roll back with the batch.
    const entries: AuditEntryInput[] = [];
    const gather: TransitionDeps['audit'] = {
      appendMany: async (inputs) => {
        entries.push(...inputs);
        return [];
      },
    };
    for (const r of batch) {
      const raw = snapshots.get(r.claimed.runId);
      out.push(holding.has(r.claimed.id) && raw ? await applyRecording(rt, tx, pl, r, runSnapshotOf(raw), gather) : undefined);
    }
    appendOnPipeline(rt.audit, pl, entries, tx);
    return out;
  });
}

/**
 * The steps are found by primary key alone and their claim is checked on the locked rows:
 * with the status or owner in the scan's condition the planner may AND in the status index,
 * whose entries for `running` pile up between vacuums (every claim adds one), and read
 * hundreds of index pages per batch instead of a few (measured 244 buffers, 680 µs a batch).
 */
const lockClaimsStatement = fixed<{ ids: string; tokens: string }>(sql`with locked as materialized (
    select s.id, s.status, s.lease_owner from engine_runs r join engine_steps s on s.run_id = r.id
    where s.id = any(${sql.placeholder('ids')}::text[])
    order by r.id, s.id
    for update of r, s)
  select id from locked where status = 'running' and lease_owner = any(${sql.placeholder('tokens')}::text[])`);

/** Recording failed for good; the step stays claimed until its lease expires (another worker takes over). */
export class RecordingError extends Error {
  constructor(cause: unknown) {
    super(`could not record the step's result: ${messageOf(cause)}`, { cause });
    this.name = 'RecordingError';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Records a result, retrying on infrastructure errors (a database blip, a failed audit
 * append): those are never a step failure. The side effect is done; only its record is
 * missing. If the success still cannot be recorded after `recordTries`, it is dead-lettered
 * (`result_unrecordable`, without the output) so it is visible and can be re-driven with the
 * same idempotency key; if even that fails, RecordingError: the lease expires and another
 * worker repeats the attempt with the same key. An altered snapshot fails the run
 * (sql/unpinned.ts).
 */
export async function recordResult(
  rt: Runtime,
  claimed: ClaimedStep,
  result: StepResult,
  attempt?: AttemptRecord,
  recheck?: Recheck,
): Promise<TransitionReport | undefined> {
  let last: unknown;
  let delay = rt.options.recordRetryMs;
  for (let i = 0; i < rt.options.recordTries; i++) {
    try {
      // The first try goes with whatever other results are waiting (group-commits.ts); retries alone.
      if (i === 0 && !recheck) return await recordBatched(rt, claimed, result, attempt);
      return await completeClaimed(rt, claimed, result, attempt, recheck);
    } catch (err) {
      if (err instanceof SnapshotError) return failUnpinned(rt, claimed, err, attempt);
      if (err instanceof TransitionError) throw new RecordingError(err);
      last = err;
      rt.logger.warn({ err, runId: claimed.runId, step: claimed.stepKey, try: i + 1 }, 'recording a step result failed; retrying');
      if (i + 1 < rt.options.recordTries) await sleep(delay);
      delay = Math.min(delay * 2, 5_000);
    }
  }
  // While the database is unreachable nothing can be recorded, not even a dead letter: leave
  // the step to a takeover once it is back. Otherwise the success itself cannot be stored.
  if (result.status === 'succeeded' && attempt?.status === 'succeeded' && !isConnectionError(last)) {
    const message = messageOf(last);
    const error: StepFailure = {
      code: 'result_unrecordable',
      message: `the action succeeded but its result could not be recorded: ${message}`,
      retryable: false,
    };
    try {
      return await completeClaimed(
        rt,
        claimed,
        {
          status: 'failed',
          error,
          deadLetter: { reason: 'result_unrecordable', context: { sideEffectDone: true, attempt: attempt.number, cause: message } },
        },
        { number: attempt.number, status: 'succeeded' },
      );
    } catch (err) {
      last = err;
    }
  }
  throw new RecordingError(last);
}

/**
 * Whether an error (or one it wraps) says the database could not be reached or went away:
 * postgres.js connection codes, socket errors, SQLSTATE class 08 (connection exception) and
 * 57P01–57P03 (shutdown, cannot connect now).
 */
export function isConnectionError(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    const code = typeof e.code === 'string' ? e.code : '';
    // postgres.js says CONNECT_TIMEOUT when a reconnect does not complete in time (a database still
    // restarting): as transient as a refused connection.
    if (/^(CONNECTION_|CONNECT_TIMEOUT|ECONN|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND)/.test(code)) return true;
    if (/^08/.test(code) || /^57P0[123]$/.test(code)) return true;
  }
  return false;
}

/** Tells the notifier about human steps a run failure or cancellation closed. */
export async function closeCancelled(rt: Runtime, runId: string, stepIds: string[], by?: string): Promise<void> {
  if (stepIds.length === 0) return;
  const run = await readRun(rt.db.orm, runId);
  for (const stepId of stepIds) {
    await notifySafely(rt, () =>
      rt.notifier().closed({ stepId, runId, correlationId: run?.correlationId ?? '', outcome: 'cancelled', ...(by ? { by } : {}) }),
    );
  }
}
