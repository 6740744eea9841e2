import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import type { AuditTrail } from '../audit/trail.js';
import type { Clock } from '../core/clock.js';
import { QuenchError } from '../core/errors.js';
import type { Database } from '../db/database.js';
import { engineRuns } from '../engine/schema.js';
import { type Person, runStarter, samePerson } from './core/decision-policy.js';
import type { ReviewLine } from './core/review-blocks.js';
import { chatHumanSteps, chatReviews } from './schema.js';

/**
 * Reviews of auto-approvals. The confidence × impact policy flags a stable sample of the steps
 * it auto-approves (`flagged_for_review`); a person then says whether they agree. One review
 * per step (the primary key of chat_reviews decides a race between replicas or paths). The
 * auto-approval has no human actor to exclude, so the rule that keeps a review independent is
 * the one that keeps approvals independent: the person who started the run may not review it.
 * Slack (`/quench review`), `GET|POST /v1/reviews` and `quench reviews` all come here.
 */
export type Verdict = 'agree' | 'disagree';

export interface ReviewDeps {
  db: Database;
  audit: AuditTrail;
  clock: Clock;
  /** Counted where the review is recorded: quench_review_disagreements_total. */
  onDisagreement?: (playbook: string) => void;
}

/** A sampled auto-approval; `reason` is the policy's, as audited (`auto-approved: confidence 0.95 (high) × impact low`). */
export interface ReviewItem extends ReviewLine {
  startedBy: string;
  review: { verdict: Verdict; note: string | null; by: string; via: string; at: string } | null;
}

export const reviewStatuses = ['pending', 'reviewed', 'all'] as const;
export type ReviewStatus = (typeof reviewStatuses)[number];

export async function listReviews(db: Database, status: ReviewStatus = 'pending', limit = 100, stepId?: string): Promise<ReviewItem[]> {
  const rows = await db.orm
    .select({ offer: chatHumanSteps, review: chatReviews, startedBy: engineRuns.startedBy })
    .from(chatHumanSteps)
    .leftJoin(chatReviews, eq(chatReviews.stepId, chatHumanSteps.stepId))
    .leftJoin(engineRuns, eq(engineRuns.id, chatHumanSteps.runId))
    .where(
      and(
        eq(chatHumanSteps.flaggedForReview, true),
        stepId ? eq(chatHumanSteps.stepId, stepId) : undefined,
        status === 'pending' ? isNull(chatReviews.stepId) : status === 'reviewed' ? sql`${chatReviews.stepId} is not null` : undefined,
      ),
    )
    .orderBy(asc(chatHumanSteps.queuedAt), asc(chatHumanSteps.stepId))
    .limit(limit);
  return rows.map(({ offer, review, startedBy }) => {
    const view = offer.view as { stepKey?: string; prompt?: string; policy?: string };
    return {
      stepId: offer.stepId,
      runId: offer.runId,
      playbook: offer.playbook,
      step: view.stepKey ?? offer.stepId,
      prompt: view.prompt ?? '',
      reason: view.policy ?? null,
      autoApprovedAt: offer.decidedAt?.toISOString() ?? null,
      startedBy: startedBy ?? 'unknown',
      review: review
        ? { verdict: review.verdict as Verdict, note: review.note, by: review.reviewerName, via: review.via, at: review.reviewedAt.toISOString() }
        : null,
    };
  });
}

export async function pendingReviewCount(db: Database): Promise<number> {
  const [row] = await db.orm
    .select({ n: sql<number>`count(*)::int` })
    .from(chatHumanSteps)
    .leftJoin(chatReviews, eq(chatReviews.stepId, chatHumanSteps.stepId))
    .where(and(eq(chatHumanSteps.flaggedForReview, true), isNull(chatReviews.stepId)));
  return Number(row?.n ?? 0);
}

export interface ReviewBy {
  person: Person;
  /** Audit actor id (Slack user id or API token user) and the name shown. */
  id: string;
  name: string;
  via: 'slack' | 'api' | 'cli';
}

/** Why a review may not be recorded (null: it may). Checked before opening a Slack form, too. */
export async function reviewRefusal(db: Database, stepId: string, by: Person): Promise<QuenchError | null> {
  const [row] = await db.orm
    .select({ flagged: chatHumanSteps.flaggedForReview, startedBy: engineRuns.startedBy, starterAliases: engineRuns.startedByAliases, reviewer: chatReviews.reviewerName })
    .from(chatHumanSteps)
    .leftJoin(engineRuns, eq(engineRuns.id, chatHumanSteps.runId))
    .leftJoin(chatReviews, eq(chatReviews.stepId, chatHumanSteps.stepId))
    .where(eq(chatHumanSteps.stepId, stepId));
  if (!row?.flagged)
    return new QuenchError('not_found', `no auto-approval sampled for review with step id ${stepId}; \`quench reviews\` lists the pending ones`);
  if (row.reviewer) return new QuenchError('conflict', `step ${stepId} was already reviewed by ${row.reviewer}; a review is final`, { details: { refusal: 'already_reviewed' } });
  const starter = runStarter(row.startedBy ?? '', row.starterAliases);
  if (starter && samePerson(starter, by))
    return new QuenchError('forbidden', 'you started this run, so another person must review its auto-approval', { details: { refusal: 'own_run' } });
  return null;
}

export async function reviewStep(deps: ReviewDeps, stepId: string, verdict: Verdict, note: string | undefined, by: ReviewBy): Promise<ReviewItem> {
  const refusal = await reviewRefusal(deps.db, stepId, by.person);
  const trimmed = note?.trim() || null;
  if (!refusal) {
    const [offer] = await deps.db.orm.select().from(chatHumanSteps).where(eq(chatHumanSteps.stepId, stepId));
    const inserted = await deps.db.orm
      .insert(chatReviews)
      .values({ stepId, runId: offer!.runId, verdict, note: trimmed, reviewer: by.id, reviewerName: by.name, via: by.via, reviewedAt: deps.clock.now() })
      .onConflictDoNothing()
      .returning({ stepId: chatReviews.stepId });
    if (inserted.length > 0) {
      await deps.audit.append({
        actor: { type: 'user', id: by.id },
        action: 'human_step.reviewed',
        subject: { type: 'step', id: stepId },
        data: { run: offer!.runId, verdict, ...(trimmed ? { note: trimmed } : {}), name: by.name, via: by.via },
        correlationId: offer!.correlationId,
      });
      if (verdict === 'disagree') deps.onDisagreement?.(offer!.playbook);
      return (await listReviews(deps.db, 'all', 1, stepId))[0]!;
    }
  }
  // Refused, or another path recorded its review between our check and our insert.
  const refused = refusal ?? (await reviewRefusal(deps.db, stepId, by.person))!;
  await auditRefusal(deps, stepId, verdict, by, refused);
  throw refused;
}

/** Every refused review is audited with who tried, how, and why (`code`). */
export async function auditRefusal(deps: Pick<ReviewDeps, 'audit'>, stepId: string, verdict: Verdict, by: ReviewBy, refused: QuenchError): Promise<void> {
  await deps.audit.append({
    actor: { type: 'user', id: by.id },
    action: 'human_step.review_refused',
    subject: { type: 'step', id: stepId },
    data: { verdict, name: by.name, via: by.via, code: refused.details?.refusal ?? refused.code },
  });
}
