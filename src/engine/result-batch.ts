import { sql } from 'drizzle-orm';
import { pipelineOn } from '../db/pipeline.js';
import { type AttemptRecord, afterRecording, applyRecording, type Recording, recordAlone, recording } from './complete.js';
import type { Runtime } from './runtime.js';
import type { ClaimedStep } from './sql/claim.js';
import { type RawSnapshot, runSnapshotOf, runSnapshotQuery } from './sql/load.js';
import type { StepResult, TransitionReport } from './sql/transition.js';

/**
 * Group commit of step results. Results that arrive while a recording transaction is in flight
 * wait for it and then go together in the next one: one BEGIN, one lock statement for all their
 * runs and claimed steps, their reads, every write, one COMMIT (and one WAL flush) for the
 * batch. A result arriving when nothing is in flight goes at once, alone: batching adds no
 * wait, it only shares what would otherwise queue.
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

interface Queued {
  r: Recording;
  resolve: (report: TransitionReport | undefined) => void;
  reject: (err: unknown) => void;
}

interface Batcher {
  queue: Queued[];
  busy: boolean;
}

const batchers = new WeakMap<Runtime, Batcher>();

export async function recordBatched(rt: Runtime, claimed: ClaimedStep, result: StepResult, attempt?: AttemptRecord): Promise<TransitionReport | undefined> {
  const r = recording(rt, claimed, result, attempt);
  let b = batchers.get(rt);
  if (!b) batchers.set(rt, (b = { queue: [], busy: false }));
  const batcher = b;
  const report = await new Promise<TransitionReport | undefined>((resolve, reject) => {
    batcher.queue.push({ r, resolve, reject });
    if (!batcher.busy) void drain(rt, batcher);
  });
  return afterRecording(rt, r, report);
}

async function drain(rt: Runtime, b: Batcher): Promise<void> {
  b.busy = true;
  try {
    while (b.queue.length > 0) {
      const batch: Queued[] = [];
      const runs = new Set<string>();
      const later: Queued[] = [];
      for (const q of b.queue) {
        if (batch.length < MAX_BATCH && !runs.has(q.r.claimed.runId)) {
          runs.add(q.r.claimed.runId);
          batch.push(q);
        } else later.push(q);
      }
      b.queue = later;
      await recordTogether(rt, batch);
    }
  } finally {
    b.busy = false;
  }
}

async function recordTogether(rt: Runtime, batch: Queued[]): Promise<void> {
  let reports: Array<TransitionReport | undefined>;
  try {
    reports = await rt.db.orm.transaction(async (tx) => {
      const pl = pipelineOn(tx);
      const ids = batch.map((q) => q.r.claimed.id);
      const tokens = batch.map((q) => q.r.claimed.token);
      // The claims still held, locked run then step, runs in id order; then each run as it is
      // once locked (later statements: they see everything committed before the locks were granted).
      const held = pl.add<{ id: string }>(sql`select s.id from engine_runs r join engine_steps s on s.run_id = r.id
        where s.id in (select json_array_elements_text(${JSON.stringify(ids)}::json))
          and s.lease_owner in (select json_array_elements_text(${JSON.stringify(tokens)}::json))
          and s.status = 'running'
        order by r.id, s.id
        for update of r, s`);
      const reads = batch.map((q) => pl.add<RawSnapshot>(runSnapshotQuery(q.r.claimed.runId)));
      await pl.settled();
      const holding = new Set((await held).map((h) => h.id));
      const out: Array<TransitionReport | undefined> = [];
      for (const [i, q] of batch.entries()) {
        const [raw] = await reads[i]!;
        out.push(holding.has(q.r.claimed.id) && raw ? await applyRecording(rt, tx, pl, q.r, runSnapshotOf(raw)) : undefined);
      }
      await pl.settled();
      return out;
    });
  } catch (err) {
    if (batch.length === 1) return batch[0]!.reject(err);
    // Nothing of the batch committed: record each alone, so a failure is only its own.
    rt.logger.debug({ err, results: batch.length }, 'a batch of step results failed; recording them one by one');
    await Promise.all(
      batch.map(async (q) => {
        try {
          // A fresh chain slot: the failed batch's claim of a next step never happened.
          Object.assign(q.r, recording(rt, q.r.claimed, q.r.result, q.r.attempt), { nextSnapshot: undefined });
          q.resolve(await recordAlone(rt, q.r));
        } catch (e) {
          q.reject(e);
        }
      }),
    );
    return;
  }
  rt.metrics.resultBatchSize.observe(batch.length);
  for (const [i, q] of batch.entries()) q.resolve(reports[i]);
}
