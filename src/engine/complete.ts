import { TransitionError } from './core/states.js';
import type { StepFailure } from './core/step-error.js';
import { storable } from './core/storable.js';
import { type ClaimedStep, leaseTime } from './sql/claim.js';
import { pipelineOn } from '../db/pipeline.js';
import { claimLockQuery, finishAttemptQuery } from './sql/attempt.js';
import { type RawSnapshot, readRun, runSnapshotOf, runSnapshotQuery, withDefinition } from './sql/load.js';
import { notifySafely } from './notify.js';
import { failUnpinned } from './sql/unpinned.js';
import { applyStepResult, type StepResult, type TransitionDeps, type TransitionReport } from './sql/transition.js';
import { engineActor, type RunRow } from './model.js';
import type { Runtime } from './runtime.js';
import { SnapshotError } from './snapshots.js';
import type { Tx } from '../db/database.js';

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
  const now = rt.clock.now();
  let recorded: StepResult = result;
  // A fresh chain slot per try: a rolled-back try's claim of the next step never happened.
  const chain: TransitionDeps['chain'] = claimed.chain
    ? { worker: workerOf(claimed), leaseMs: rt.options.leaseMs, leaseNow: leaseTime(rt.options.leaseClock === 'database', now), now }
    : undefined;
  let nextSnapshot: Promise<RawSnapshot[]> | undefined;
  const report = await rt.db.orm.transaction(async (tx) => {
    // The lock, then the run as it is once locked, in one round trip (pipeline.ts): the read is
    // a later statement, so it sees every change committed before the lock was granted.
    const pl = pipelineOn(tx);
    const held = pl.add(claimLockQuery(claimed));
    const read = pl.add<RawSnapshot>(runSnapshotQuery(claimed.runId));
    await pl.settled();
    const [raw] = await read;
    if ((await held).length === 0 || !raw) return undefined;
    const snapshot = runSnapshotOf(raw);
    const step = snapshot.rows.find((r) => r.id === claimed.id);
    if (!step) return undefined;
    const run = await withDefinition(tx, snapshot.run);
    recorded = storable((recheck ? await recheck(tx, run) : undefined) ?? result);
    if (attempt)
      void pl.add(
        finishAttemptQuery(tx, {
          stepId: step.id,
          attempt: attempt.number,
          status: attempt.status,
          output: storable(attempt.output),
          error: storable(attempt.error),
          now,
        }),
      );
    const report = await applyStepResult(
      tx,
      { audit: rt.audit, catalog: rt.actions, now, rows: snapshot.rows, pipeline: pl, ...(chain ? { chain } : {}) },
      run,
      step,
      recorded,
      engineActor(workerOf(claimed)),
    );
    // The step this commit claimed for the slot gets the run as the commit leaves it: no read before it runs.
    if (chain?.claimed) nextSnapshot = pl.add<RawSnapshot>(runSnapshotQuery(claimed.runId));
    await pl.settled();
    return report;
  });
  rt.metrics.transitions.inc({ kind: claimed.kind, status: report ? recorded.status : 'fenced' });
  if (report && chain?.claimed) {
    const [raw] = (await nextSnapshot) ?? [];
    claimed.chain!.next = { ...chain.claimed, ...(raw ? { snapshot: runSnapshotOf(raw) } : {}) };
  }
  if (report && report.readied > 0) rt.wake.wake();
  if (report) await closeCancelled(rt, claimed.runId, report.cancelledHumanSteps);
  return report;
}

/** Recording failed for good; the step stays claimed until its lease expires (another worker takes over). */
export class RecordingError extends Error {
  constructor(cause: unknown) {
    super(`could not record the step's result: ${(cause as Error)?.message ?? String(cause)}`, { cause });
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
    const message = (last as Error)?.message ?? String(last);
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
