import { and, asc, eq, getTableColumns, type SQL, sql } from 'drizzle-orm';
import type { Executor } from '../../db/database.js';
import { epochMs, parsedJson, pgArray } from '../../db/rows.js';
import { type Bound, fixed, sendBound } from '../../db/statement.js';
import type { Playbook } from '../../playbooks/core/model.js';
import type { RunEvent } from '../context.js';
import type { RunRow, StepRow } from '../model.js';
import { cachedDefinition, verifyAndCache } from '../snapshots.js';
import { engineRuns, engineSteps } from '../schema.js';

/**
 * What the executor reads before running a claimed step, in one statement (one snapshot, one
 * round trip, no lock): the lean run, its step rows in `stepsOf` order, and its events. The
 * statement is `runSnapshotQuery`, which a recording transaction also sends on its pipeline to
 * hand the next step of the run its snapshot (complete.ts).
 */
export async function readRunForStep(tx: Executor, runId: string): Promise<RunSnapshot | undefined> {
  const [row] = await sendBound<RawSnapshot>(tx, runSnapshotQuery(runId));
  return row && runSnapshotOf(row);
}

/** A run as a step sees it: the lean run, its rows (`stepsOf` order) and its events. */
export interface RunSnapshot {
  run: LeanRun;
  rows: StepRow[];
  events: RunEvent[];
}

export interface RawSnapshot {
  run: unknown;
  steps: unknown;
  events: unknown;
}

/** The run, its rows and its events as JSON in one row (times in epoch ms, exact). Built once (statement.ts). */
export function runSnapshotQuery(runId: string): Bound {
  return snapshotStatement({ runId });
}

/** The select list of a snapshot row (the run, its steps and its events as JSON), of a run `r`. */
const snapshotColumns = sql`
      json_build_object(
        'id', r.id, 'playbook', r.playbook, 'playbookHash', r.playbook_hash, 'state', r.state,
        'trigger', r.trigger, 'inputs', r.inputs, 'correlationId', r.correlation_id, 'startKey', r.start_key,
        'drill', r.drill, 'startedBy', r.started_by, 'startedByAliases', r.started_by_aliases, 'traceContext', r.trace_context, 'error', r.error,
        'createdAt', ${epochMs(sql`r.created_at`)}, 'updatedAt', ${epochMs(sql`r.updated_at`)}, 'endedAt', ${epochMs(sql`r.ended_at`)},
        'definitionDigest', md5(r.definition::text)) as run,
      (select coalesce(json_agg(json_build_object(
          'id', s.id, 'runId', s.run_id, 'stepKey', s.step_key, 'kind', s.kind, 'status', s.status,
          'wakeAt', ${epochMs(sql`s.wake_at`)}, 'leaseOwner', s.lease_owner, 'attempts', s.attempts,
          'completedSeq', s.completed_seq, 'spec', s.spec, 'output', s.output, 'error', s.error,
          'decision', s.decision, 'createdAt', ${epochMs(sql`s.created_at`)}, 'startedAt', ${epochMs(sql`s.started_at`)},
          'deadlineAt', ${epochMs(sql`s.deadline_at`)}, 'endedAt', ${epochMs(sql`s.ended_at`)})
        order by s.created_at asc, s.completed_seq asc nulls last, s.step_key asc), '[]'::json)
        from engine_steps s where s.run_id = r.id) as steps,
      (select coalesce(json_agg(json_build_object(
          'type', e.type, 'payload', e.payload, 'receivedAt', ${epochMs(sql`e.received_at`)}) order by e.seq), '[]'::json)
        from engine_events e where e.run_id = r.id) as events`;

const snapshotStatement = fixed<{ runId: string }>(sql`select ${snapshotColumns}
    from engine_runs r where r.id = ${sql.placeholder('runId')}`);

/**
 * The snapshots of several runs in one statement (a recording transaction's batch: one
 * statement instead of one per result), each row naming its run.
 */
export function runSnapshotsQuery(runIds: string[]): Bound {
  return snapshotsStatement({ runIds: pgArray(runIds) });
}

const snapshotsStatement = fixed<{ runIds: string }>(sql`select r.id as run_id, ${snapshotColumns}
    from engine_runs r where r.id = any(${sql.placeholder('runIds')}::text[])`);

const date = (v: unknown) => (v === null || v === undefined ? null : new Date(Number(v)));

export function runSnapshotOf(raw: RawSnapshot): RunSnapshot {
  const r = parsedJson<Record<string, unknown>>(raw.run);
  const run = { ...r, createdAt: date(r.createdAt), updatedAt: date(r.updatedAt), endedAt: date(r.endedAt) } as LeanRun;
  const rows = parsedJson<Array<Record<string, unknown>>>(raw.steps).map(
    (s) =>
      ({
        ...s,
        wakeAt: date(s.wakeAt),
        createdAt: date(s.createdAt),
        startedAt: date(s.startedAt),
        deadlineAt: date(s.deadlineAt),
        endedAt: date(s.endedAt),
      }) as StepRow,
  );
  const events = parsedJson<Array<{ type: string; payload: unknown; receivedAt: number }>>(raw.events).map((e) => ({
    type: e.type,
    payload: e.payload,
    receivedAt: new Date(Number(e.receivedAt)).toISOString(),
  }));
  return { run, rows, events };
}


/** A run row without its definition snapshot, with the digest of the stored snapshot instead. */
export type LeanRun = Omit<RunRow, 'definition'> & { definitionDigest: string };

const digestOf = sql<string>`md5(${engineRuns.definition}::text)`;
const { definition: _definition, ...runColumns } = getTableColumns(engineRuns);
const leanColumns = { ...runColumns, definitionDigest: digestOf };

/** Reads a run without shipping its snapshot (the digest says which cached definition applies). */
export async function readLeanRun(tx: Executor, runId: string, lock = false): Promise<LeanRun | undefined> {
  const query = tx.select(leanColumns).from(engineRuns).where(eq(engineRuns.id, runId));
  const [run] = lock ? await query.for('update') : await query;
  return run as LeanRun | undefined;
}

/**
 * The run's verified definition: from the cache by recorded hash and snapshot digest, else
 * read, verified and cached (snapshots.ts). Throws SnapshotError for an altered snapshot.
 */
export async function definitionOf(tx: Executor, run: LeanRun): Promise<Playbook> {
  const hit = cachedDefinition(run.playbookHash, run.definitionDigest);
  if (hit) return hit;
  const [row] = await tx.select({ definition: engineRuns.definition, digest: digestOf }).from(engineRuns).where(eq(engineRuns.id, run.id));
  return verifyAndCache(run.playbookHash, row?.digest ?? run.definitionDigest, row?.definition);
}

/** A lean run with its verified definition, as the rest of the engine reads runs. */
export async function withDefinition(tx: Executor, lean: LeanRun): Promise<RunRow> {
  const { definitionDigest: _digest, ...run } = lean;
  return { ...run, definition: await definitionOf(tx, lean) };
}

/**
 * Locks a run row for the rest of the transaction. Every change to a run's steps takes this
 * lock first, so two workers finishing two parallel branches at once advance the run one
 * after the other (and always in the same lock order: run, then steps, so no deadlock).
 */
export async function lockRun(tx: Executor, runId: string): Promise<RunRow | undefined> {
  const lean = await readLeanRun(tx, runId, true);
  // Pinning holds on every path that acts on the definition (a transition, a decision, a
  // signal), not only in the executor: an altered snapshot throws SnapshotError here.
  return lean && withDefinition(tx, lean);
}

/**
 * The run row locked, its snapshot not verified: only for paths that must work on a run whose
 * snapshot is refused (failing it, cancelling it) and never read its definition.
 */
export async function lockRunUnverified(tx: Executor, runId: string): Promise<RunRow | undefined> {
  const [run] = await tx.select().from(engineRuns).where(eq(engineRuns.id, runId)).for('update');
  return run as RunRow | undefined;
}

export async function readRun(tx: Executor, runId: string): Promise<RunRow | undefined> {
  const [run] = await tx.select().from(engineRuns).where(eq(engineRuns.id, runId));
  return run as RunRow | undefined;
}

export async function stepsOf(tx: Executor, runId: string): Promise<StepRow[]> {
  return (await tx
    .select()
    .from(engineSteps)
    .where(eq(engineSteps.runId, runId))
    .orderBy(asc(engineSteps.createdAt), sql`${engineSteps.completedSeq} asc nulls last`, asc(engineSteps.stepKey))) as StepRow[];
}

export async function readStep(tx: Executor, stepId: string): Promise<StepRow | undefined> {
  const [step] = await tx.select().from(engineSteps).where(eq(engineSteps.id, stepId));
  return step as StepRow | undefined;
}

/**
 * The claim's fence: the step is still `running` under this claim's token. Every heartbeat,
 * attempt start and result of a claim is conditioned on it, so a claim that was taken over
 * changes nothing.
 */
export function heldByClaim(stepId: string, token: string): SQL {
  return and(eq(engineSteps.id, stepId), eq(engineSteps.status, 'running'), eq(engineSteps.leaseOwner, token))!;
}

/** Locks the claimed step for the rest of the transaction, if the claim still holds it. */
export async function lockClaimedStep(tx: Executor, stepId: string, token: string): Promise<StepRow | undefined> {
  const [step] = await tx.select().from(engineSteps).where(heldByClaim(stepId, token)).for('update');
  return step as StepRow | undefined;
}
