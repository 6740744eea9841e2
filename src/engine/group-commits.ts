import { groupCommit } from '../db/group-commit.js';
import { pipelinedTransaction } from '../db/pipeline.js';
import { type AttemptRecord, afterRecording, type Recording, recordAlone, recordTogether, recording } from './complete.js';
import type { Runtime } from './runtime.js';
import { type AttemptArgs, type AttemptBegun, attemptBegunOf, beginAttempt, beginAttemptQuery, type RawAttemptStart } from './sql/attempt.js';
import type { ClaimedStep } from './sql/claim.js';
import type { StepResult, TransitionReport } from './sql/transition.js';

/**
 * Group commit (src/db/group-commit.ts) of the engine's two per-step commits: attempt starts
 * and step results.
 *
 * Attempt starts: each is the one statement of `beginAttempt`, fenced on its claim; a group runs
 * them in one transaction, so the starts of several steps share a commit. Every start still
 * commits before its action is called. At most one start per run in a group.
 *
 * Step results. Results that arrive while a recording transaction is in flight
 * wait for it and then go together in the next one: one BEGIN, one lock statement for all their
 * runs and claimed steps, their reads, every write, one COMMIT (and one WAL flush) for the
 * batch. A result arriving when nothing is in flight goes at once, alone; under load the next
 * batch is formed one event-loop turn later, so the slots the last batch answered join it.
 *
 * Each result is applied exactly as `completeClaimed` applies it (complete.ts
 * `applyRecording`), against its run as read after the batch took the locks. A batch holds at
 * most one result per run: a second result of the same run (parallel branches) must plan on
 * the first one's writes, so it waits for the next batch. Runs are locked in id order, so two
 * batches never deadlock, and a transaction that locks one run never waits on a batch that
 * waits on it. If the batch fails, nothing of it committed: each of its results is then
 * recorded alone, so one result's failure is its own (recordResult retries it, dead-letters
 * it, or fails the run for an altered snapshot).
 */
const MAX_BATCH = 32;

const starts = new WeakMap<Runtime, (args: AttemptArgs) => Promise<AttemptBegun>>();

export function beginAttemptGrouped(rt: Runtime, args: AttemptArgs): Promise<AttemptBegun> {
  let start = starts.get(rt);
  if (!start) {
    start = groupCommit<AttemptArgs, AttemptBegun>({
      maxBatch: MAX_BATCH,
      key: (a) => a.runId,
      // A group of one is its one statement, committed on its own (the reply comes after the
      // commit): no BEGIN and COMMIT round trips.
      together: async (group) =>
        group.length === 1
          ? [await beginAttempt(rt.db, group[0]!)]
          : Promise.all(
              (await pipelinedTransaction(rt.db.orm, async (_tx, pl) => group.map((a) => pl.add<RawAttemptStart>(beginAttemptQuery(a))))).map(
                async (rows, i) => attemptBegunOf(group[i]!, await rows),
              ),
            ),
      alone: (a) => beginAttempt(rt.db, a),
    });
    starts.set(rt, start);
  }
  return start(args);
}

const groups = new WeakMap<Runtime, (r: Recording) => Promise<TransitionReport | undefined>>();

export async function recordBatched(rt: Runtime, claimed: ClaimedStep, result: StepResult, attempt?: AttemptRecord): Promise<TransitionReport | undefined> {
  let record = groups.get(rt);
  if (!record) {
    record = groupCommit<Recording, TransitionReport | undefined>({
      maxBatch: MAX_BATCH,
      key: (r) => r.claimed.runId,
      together: (batch) => recordTogether(rt, batch),
      // A fresh chain slot: the failed group's claim of a next step never happened.
      // The failed group's prestart never happened either, and none is tried again.
      alone: (r) =>
        recordAlone(rt, Object.assign(r, recording(rt, r.claimed, r.result, r.attempt), { nextSnapshot: undefined, prestarts: false, prestart: undefined })),
      onGroup: (size) => rt.metrics.resultBatchSize.observe(size),
    });
    groups.set(rt, record);
  }
  // A prestart only where a failed first try leaves tries to record the result without it.
  const r: Recording = { ...recording(rt, claimed, result, attempt), prestarts: rt.options.recordTries > 1 };
  return afterRecording(rt, r, await record(r));
}
