import { and, eq, gt, inArray, isNotNull, like, lte, or } from 'drizzle-orm';
import { auditEvents } from '../audit/schema.js';
import { chatHumanSteps, chatRunThreads } from '../chat/schema.js';
import type { Database } from '../db/database.js';
import { drillScorecards } from '../drills/schema.js';
import { engineDeadLetters, engineRuns, engineSteps } from '../engine/schema.js';
import { gateFreezes, gateOverrides } from '../gate/schema.js';
import { sloSamples } from '../slo/schema.js';
import type { ReportFacts, ReportSlo } from './core/facts.js';

const ms = (d: Date | null) => (d ? d.getTime() : null);

/**
 * Reads everything a report needs from the stored rows, for the period (from, to]. Samples are
 * read from the earliest of the period start and (to − the longest SLO window), so attainment
 * over the SLO's own window comes from the same stored counts.
 */
export async function readReportFacts(db: Database, slos: ReportSlo[], from: Date, to: Date): Promise<ReportFacts> {
  const orm = db.orm;
  const within = (col: Parameters<typeof gt>[0]) => and(gt(col, from), lte(col, to));
  const earliest = new Date(Math.min(from.getTime(), to.getTime() - Math.max(0, ...slos.map((s) => s.windowMs))) - 1);
  const names = slos.map((s) => s.name);
  const samples =
    names.length === 0
      ? []
      : await orm
          .select()
          .from(sloSamples)
          .where(and(inArray(sloSamples.slo, names), gt(sloSamples.at, earliest), lte(sloSamples.at, to)));
  const audit = await orm
    .select({ at: auditEvents.at, action: auditEvents.action, subjectId: auditEvents.subjectId, data: auditEvents.data })
    .from(auditEvents)
    .where(
      and(
        within(auditEvents.at),
        or(
          eq(auditEvents.action, 'slo.alert.firing'),
          like(auditEvents.action, 'human_step.%'),
          eq(auditEvents.action, 'gate.override.approved'),
        ),
      ),
    );
  const data = (e: (typeof audit)[number]) => (e.data ?? {}) as Record<string, unknown>;
  const granted = new Set(audit.filter((e) => e.action === 'gate.override.approved' && data(e).complete === true).map((e) => e.subjectId));
  const overrides = granted.size === 0 ? [] : await orm.select().from(gateOverrides).where(inArray(gateOverrides.id, [...granted]));
  const grantedAt = new Map(audit.filter((e) => e.action === 'gate.override.approved' && data(e).complete === true).map((e) => [e.subjectId, e.at.getTime()]));
  const freezes = await orm.select().from(gateFreezes).where(lte(gateFreezes.createdAt, to));
  const runs = await orm
    .select({ run: engineRuns, ack: chatRunThreads.acknowledgedAt })
    .from(engineRuns)
    .leftJoin(chatRunThreads, eq(chatRunThreads.runId, engineRuns.id))
    .where(or(within(engineRuns.createdAt), and(isNotNull(engineRuns.endedAt), within(engineRuns.endedAt))));
  const runIds = runs.map((r) => r.run.id);
  const steps = runIds.length === 0 ? [] : await orm.select({ runId: engineSteps.runId, spec: engineSteps.spec, status: engineSteps.status, startedAt: engineSteps.startedAt }).from(engineSteps).where(inArray(engineSteps.runId, runIds));
  const human = await orm.select().from(chatHumanSteps).where(within(chatHumanSteps.queuedAt));
  const auto = new Set(audit.filter((e) => e.action === 'human_step.auto_approved').map((e) => e.subjectId));
  const dead = await orm.select({ id: engineDeadLetters.id }).from(engineDeadLetters).where(within(engineDeadLetters.createdAt));
  const drills = await orm.select().from(drillScorecards).where(within(drillScorecards.endedAt));
  return {
    period: { start: from.getTime(), end: to.getTime() },
    slos,
    samples: samples.map((s) => ({ slo: s.slo, at: s.at.getTime(), errors: s.errors, total: s.total, budgetRemaining: s.budgetRemaining, burnRate: s.burnRate })),
    alertsFired: audit.filter((e) => e.action === 'slo.alert.firing').map((e) => ({ slo: e.subjectId, severity: String(data(e).severity ?? 'unknown'), at: e.at.getTime() })),
    freezes: freezes.map((f) => ({ services: f.services, slo: f.slo, start: f.createdAt.getTime(), end: ms(f.liftedAt) ?? ms(f.until) })),
    overrides: overrides.map((o) => ({ service: o.service, at: grantedAt.get(o.id) ?? o.createdAt.getTime() })),
    runs: runs.map(({ run, ack }) => ({
      id: run.id,
      playbook: run.playbook,
      drill: run.drill !== null,
      state: run.state,
      createdAt: run.createdAt.getTime(),
      endedAt: ms(run.endedAt),
      acknowledgedAt: ms(ack),
      steps: steps
        .filter((s) => s.runId === run.id)
        .map((s) => ({ role: String((s.spec as { role?: string }).role ?? 'step'), status: s.status, started: s.startedAt !== null })),
    })),
    humanSteps: human.map((h) => ({
      queuedAt: h.queuedAt.getTime(),
      offeredAt: ms(h.offeredAt),
      decidedAt: ms(h.decidedAt),
      slaWithinMs: (h.sla as { withinMs?: number } | null)?.withinMs ?? null,
      autoApproved: auto.has(h.stepId),
      sampledForReview: h.flaggedForReview,
    })),
    escalations: audit.filter((e) => e.action === 'human_step.escalated').length,
    reassignments: audit.filter((e) => e.action === 'human_step.reassigned').length,
    deadLetteredSteps: dead.length,
    drills: drills.map((d) => ({ runId: d.runId, playbook: d.playbook, finalState: d.finalState, gaps: d.gaps, endedAt: d.endedAt.getTime() })),
  };
}
