import { asc, eq } from 'drizzle-orm';
import type { Executor } from '../db/database.js';
import type { ExpressionContext } from '../playbooks/core/expressions.js';
import type { RunRow, StepRow } from './model.js';
import { engineEvents } from './schema.js';

/**
 * The context templates and conditions see: `trigger`, `inputs`, `steps.<id>` (status,
 * output, rendered params, error), `env` (only the variables the playbook lists), and `run`
 * (id, correlation id, playbook, drill flag, and the events attached so far).
 */
export async function runContext(
  tx: Executor,
  run: RunRow,
  rows: StepRow[],
  env: NodeJS.ProcessEnv,
  /** The run's events, when already read with the run (sql/load.ts readRunForStep). */
  known?: RunEvent[],
): Promise<ExpressionContext> {
  return contextOf(run, rows, env, known ?? (await runEvents(tx, run.id)));
}

/** The context from a run, its rows and its events as already read. */
export function contextOf(run: RunRow, rows: StepRow[], env: NodeJS.ProcessEnv, events: RunEvent[]): ExpressionContext {
  const steps: Record<string, unknown> = {};
  for (const r of rows) {
    if (r.spec.role !== 'step') continue;
    steps[r.stepKey] = { status: r.status, output: r.output ?? null, params: r.spec.params ?? null, error: r.error ?? null };
  }
  const allowed: Record<string, string> = {};
  for (const name of run.definition.env ?? []) {
    const value = env[name];
    if (value !== undefined) allowed[name] = value;
  }
  return {
    trigger: run.trigger ?? {},
    inputs: run.inputs ?? {},
    steps,
    env: allowed,
    run: {
      id: run.id,
      correlationId: run.correlationId,
      playbook: run.playbook,
      playbookHash: run.playbookHash,
      drill: run.drill !== null,
      startedAt: run.createdAt.toISOString(),
      events,
    },
  };
}

export interface RunEvent {
  type: string;
  payload: unknown;
  receivedAt: string;
}

/** The events delivered to a run, oldest first. */
export async function runEvents(tx: Executor, runId: string): Promise<RunEvent[]> {
  const rows = await tx
    .select({ type: engineEvents.type, payload: engineEvents.payload, receivedAt: engineEvents.receivedAt })
    .from(engineEvents)
    .where(eq(engineEvents.runId, runId))
    .orderBy(asc(engineEvents.seq));
  return rows.map((e) => ({ type: e.type, payload: e.payload, receivedAt: e.receivedAt.toISOString() }));
}

/** The same context with the run's events replaced (re-read under the run lock). */
export function withEvents(ctx: ExpressionContext, events: RunEvent[]): ExpressionContext {
  return { ...ctx, run: { ...(ctx.run as object), events } };
}

/** For compensations: `steps.<id>` of the compensated step is what its undo reads. */
export function withCompensated(ctx: ExpressionContext, rows: StepRow[], of: string): ExpressionContext {
  const row = rows.find((r) => r.stepKey === of);
  if (!row || row.spec.role === 'step') return ctx;
  return {
    ...ctx,
    steps: { ...(ctx.steps as object), [of]: { status: row.status, output: row.output ?? null, params: row.spec.params ?? null } },
  };
}
