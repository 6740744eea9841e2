import { and, asc, desc, eq, inArray, lt, type SQL, sql } from 'drizzle-orm';
import type { Database } from '../../db/database.js';
import type { RunState, StepStatus } from '../core/states.js';
import { engineAttempts, engineRuns, engineSteps } from '../schema.js';

/**
 * Read models for `quench runs`, `GET /v1/runs[/:id]` and chat: a run summary list, and one
 * run with its steps and their attempts in timeline order. Plain reads, no locks.
 */
export interface RunSummary {
  id: string;
  playbook: string;
  playbookHash: string;
  state: RunState;
  correlationId: string;
  drill: boolean;
  startedBy: string;
  createdAt: Date;
  updatedAt: Date;
  endedAt: Date | null;
}

export async function listRuns(
  db: Database,
  options: { state?: RunState[]; limit?: number; before?: Date; correlationId?: string } = {},
): Promise<RunSummary[]> {
  const where: SQL[] = [];
  if (options.state?.length) where.push(inArray(engineRuns.state, options.state));
  if (options.before) where.push(lt(engineRuns.createdAt, options.before));
  if (options.correlationId) where.push(eq(engineRuns.correlationId, options.correlationId));
  const rows = await db.orm
    .select({
      id: engineRuns.id,
      playbook: engineRuns.playbook,
      playbookHash: engineRuns.playbookHash,
      state: engineRuns.state,
      correlationId: engineRuns.correlationId,
      drill: engineRuns.drill,
      startedBy: engineRuns.startedBy,
      createdAt: engineRuns.createdAt,
      updatedAt: engineRuns.updatedAt,
      endedAt: engineRuns.endedAt,
    })
    .from(engineRuns)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(engineRuns.createdAt), desc(engineRuns.id))
    .limit(Math.min(Math.max(options.limit ?? 50, 1), 500));
  return rows.map((r) => ({ ...r, state: r.state as RunState, drill: r.drill !== null }));
}

export interface StepDetail {
  id: string;
  key: string;
  kind: string;
  role: string;
  status: StepStatus;
  attempts: Array<{
    attempt: number;
    idempotencyKey: string;
    status: string;
    worker: string;
    takeovers: number;
    startedAt: Date;
    endedAt: Date | null;
    error: unknown;
  }>;
  output: unknown;
  error: unknown;
  decision: unknown;
  wakeAt: Date | null;
  createdAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
}

export async function getRun(db: Database, id: string) {
  const [run] = await db.orm.select().from(engineRuns).where(eq(engineRuns.id, id));
  if (!run) return undefined;
  const steps = await db.orm
    .select()
    .from(engineSteps)
    .where(eq(engineSteps.runId, id))
    .orderBy(asc(engineSteps.createdAt), sql`${engineSteps.completedSeq} asc nulls last`, asc(engineSteps.stepKey));
  const attempts = await db.orm
    .select()
    .from(engineAttempts)
    .where(eq(engineAttempts.runId, id))
    .orderBy(asc(engineAttempts.startedAt), asc(engineAttempts.attempt));
  const { definition: _definition, traceContext: _trace, ...rest } = run;
  return {
    ...rest,
    state: run.state as RunState,
    steps: steps.map(
      (s): StepDetail => ({
        id: s.id,
        key: s.stepKey,
        kind: s.kind,
        role: (s.spec as { role: string }).role,
        status: s.status as StepStatus,
        attempts: attempts
          .filter((a) => a.stepId === s.id)
          .map((a) => ({
            attempt: a.attempt,
            idempotencyKey: a.idempotencyKey,
            status: a.status,
            worker: a.worker,
            takeovers: a.takeovers,
            startedAt: a.startedAt,
            endedAt: a.endedAt,
            error: a.error,
          })),
        output: s.output,
        error: s.error,
        decision: s.decision,
        wakeAt: s.wakeAt,
        createdAt: s.createdAt,
        startedAt: s.startedAt,
        endedAt: s.endedAt,
      }),
    ),
  };
}

export type RunDetail = NonNullable<Awaited<ReturnType<typeof getRun>>>;

/** Human steps in a state (default waiting), oldest first: what a notifier reconciles on start. */
export async function listHumanSteps(db: Database, status: StepStatus = 'waiting') {
  return db.orm
    .select({
      id: engineSteps.id,
      runId: engineSteps.runId,
      stepKey: engineSteps.stepKey,
      status: engineSteps.status,
      wakeAt: engineSteps.wakeAt,
      createdAt: engineSteps.createdAt,
      correlationId: engineRuns.correlationId,
      playbook: engineRuns.playbook,
    })
    .from(engineSteps)
    .innerJoin(engineRuns, eq(engineRuns.id, engineSteps.runId))
    .where(and(eq(engineSteps.kind, 'human'), eq(engineSteps.status, status)))
    .orderBy(asc(engineSteps.createdAt))
    .limit(1000);
}
