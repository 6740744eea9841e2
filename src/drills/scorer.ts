import { and, eq, isNotNull, isNull, lt, or, sql } from 'drizzle-orm';
import { chatRunThreads } from '../chat/schema.js';
import { engineRuns, engineSteps } from '../engine/schema.js';
import type { ServiceContext } from '../service.js';
import { type Scorecard, scoreDrill, scorecardText } from './core/scorecard.js';
import { drillScorecards } from './schema.js';

const actor = { type: 'system', id: 'drills' } as const;

/**
 * Scores every finished drill that has no scorecard yet, or whose scorecard predates the run's
 * latest end (a dead-lettered step re-driven with `quench dlq retry` reopens the run, which
 * then ends again with more attempts): computes it from the run, stores it (the insert, or the
 * update of an older one, on the run id is the exactly-once point: of two replicas only the one
 * whose row landed audits and posts), and posts it to the run's incident thread when Slack has
 * one. Returns the scorecards this call stored.
 */
export async function scoreFinishedDrills(ctx: ServiceContext, limit = 20): Promise<Scorecard[]> {
  const pending = await ctx.db.orm
    .select({ id: engineRuns.id, scoredEnd: drillScorecards.endedAt })
    .from(engineRuns)
    .leftJoin(drillScorecards, eq(drillScorecards.runId, engineRuns.id))
    .where(
      and(
        isNotNull(engineRuns.drill),
        isNotNull(engineRuns.endedAt),
        or(isNull(drillScorecards.runId), lt(drillScorecards.endedAt, engineRuns.endedAt)),
        sql`${engineRuns.drill} <> 'null'::jsonb`,
      ),
    )
    .limit(limit);
  const stored: Scorecard[] = [];
  for (const { id, scoredEnd } of pending) {
    const card = await scoreRun(ctx, id, scoredEnd !== null);
    if (card) stored.push(card);
  }
  return stored;
}

async function scoreRun(ctx: ServiceContext, runId: string, rescore: boolean): Promise<Scorecard | undefined> {
  const [run] = await ctx.db.orm.select().from(engineRuns).where(eq(engineRuns.id, runId));
  if (!run?.endedAt) return undefined;
  const steps = await ctx.db.orm.select().from(engineSteps).where(eq(engineSteps.runId, runId));
  steps.sort((a, b) => (a.startedAt ?? a.createdAt).getTime() - (b.startedAt ?? b.createdAt).getTime() || a.stepKey.localeCompare(b.stepKey));
  const [thread] = await ctx.db.orm.select().from(chatRunThreads).where(eq(chatRunThreads.runId, runId));
  const card = scoreDrill({
    id: run.id,
    playbook: run.playbook,
    state: run.state,
    definition: run.definition as never,
    createdAt: run.createdAt,
    endedAt: run.endedAt,
    steps: steps.map((s) => ({ ...s, key: s.stepKey })),
    acknowledgedAt: thread?.acknowledgedAt ?? null,
  });
  const inserted = await ctx.db.orm.transaction(async (tx) => {
    const rows = await tx
      .insert(drillScorecards)
      .values({
        runId,
        playbook: run.playbook,
        finalState: run.state,
        gaps: card.gaps.length,
        scorecard: card,
        startedAt: run.createdAt,
        endedAt: run.endedAt!,
        scoredAt: ctx.clock.now(),
      })
      .onConflictDoUpdate({
        target: drillScorecards.runId,
        set: {
          finalState: sql`excluded.final_state`,
          gaps: sql`excluded.gaps`,
          scorecard: sql`excluded.scorecard`,
          endedAt: sql`excluded.ended_at`,
          scoredAt: sql`excluded.scored_at`,
        },
        // Only a later end replaces a scorecard: a replica scoring the same end again changes nothing.
        setWhere: lt(drillScorecards.endedAt, sql`excluded.ended_at`),
      })
      .returning({ runId: drillScorecards.runId });
    if (rows.length === 0) return false;
    await ctx.audit.append(
      {
        actor,
        action: 'drill.scored',
        subject: { type: 'run', id: runId },
        data: {
          drill: true,
          playbook: run.playbook,
          finalState: run.state,
          failuresInjected: card.failuresInjected,
          compensations: card.compensations,
          gaps: card.gaps,
          ...(rescore ? { rescored: true } : {}),
        },
        correlationId: run.correlationId,
      },
      tx,
    );
    return true;
  });
  if (!inserted) return undefined;
  if (thread && ctx.ports.chat.enabled) {
    try {
      await ctx.ports.chat.post(thread.channel, { text: `:test_tube: ${scorecardText(card)}` }, thread.ts);
    } catch (err) {
      // The scorecard is stored and shown by `quench runs show`; a failed post is only logged.
      ctx.logger.warn({ err, runId }, 'drill scorecard not posted to Slack');
    }
  }
  return card;
}

/** The stored scorecard of a drill run, if it was scored. */
export async function storedScorecard(ctx: Pick<ServiceContext, 'db'>, runId: string): Promise<Scorecard | undefined> {
  const [row] = await ctx.db.orm.select({ scorecard: drillScorecards.scorecard }).from(drillScorecards).where(eq(drillScorecards.runId, runId));
  return row?.scorecard;
}
