import type { ReportFacts, ReportSample } from './facts.js';
import { type Spread, spread } from './stats.js';

/**
 * The report model: every number any format shows. Computed once per period by `computeReport`
 * (pure), stored, and rendered to JSON, Markdown, HTML and Slack from the stored copy.
 */
export interface SloReport {
  slo: string;
  service: string;
  objective: number;
  window: string;
  /** 1 − Σerrors/Σtotal over the samples in the period; null without traffic. */
  attainment: number | null;
  /** The same over the SLO's own window ending at the period end. */
  windowAttainment: number | null;
  met: boolean | null;
  windowMet: boolean | null;
  budgetAtStart: number | null;
  budgetAtEnd: number | null;
  /** Budget remaining and fastest burn rate at each stored evaluation in the period. */
  burnDown: Array<{ at: string; budgetRemaining: number | null; burnRate: number | null }>;
  alertsFired: Record<string, number>;
  freezes: { count: number; totalSeconds: number };
  overridesGranted: number;
}

export interface ResponseReport {
  runsStarted: Record<string, number>;
  timeToAcknowledge: Spread;
  timeToResolve: Spread;
  humanQueueTime: Spread;
  humanDecisionTime: Spread;
  slaBreaches: number;
  escalations: number;
  reassignments: number;
  firstPassYield: { finished: number; firstPass: number; ratio: number | null };
  deadLetteredSteps: number;
  autoApprovals: { total: number; sampledForReview: number };
  /** Absent when drills are not stored. */
  drills?: { run: number; byFinalState: Record<string, number>; gapsFound: number; runs: Array<{ runId: string; playbook: string; finalState: string; gaps: number }> };
}

export interface Report {
  period: { from: string; to: string };
  generatedAt: string;
  slos: SloReport[];
  response: ResponseReport;
}

const iso = (ms: number) => new Date(ms).toISOString();
const inPeriod = (at: number, from: number, to: number) => at > from && at <= to;

function attainmentOf(samples: readonly ReportSample[]): number | null {
  let errors = 0;
  let total = 0;
  for (const s of samples) {
    errors += s.errors;
    total += s.total;
  }
  return total > 0 ? 1 - errors / total : null;
}

/** The budget remaining at the last stored evaluation at or before `at`. */
function budgetAt(samples: readonly ReportSample[], at: number): number | null {
  let best: ReportSample | undefined;
  for (const s of samples) if (s.at <= at && (!best || s.at > best.at)) best = s;
  return best?.budgetRemaining ?? null;
}

function overlapSeconds(start: number, end: number | null, from: number, to: number): number {
  const a = Math.max(start, from);
  const b = Math.min(end ?? to, to);
  return b > a ? (b - a) / 1000 : 0;
}

export function computeReport(facts: ReportFacts, generatedAt: number): Report {
  const { start, end } = facts.period;
  const slos = facts.slos.map((slo): SloReport => {
    const own = facts.samples.filter((s) => s.slo === slo.name).sort((a, b) => a.at - b.at);
    const period = own.filter((s) => inPeriod(s.at, start, end));
    const window = own.filter((s) => inPeriod(s.at, end - slo.windowMs, end));
    const attainment = attainmentOf(period);
    const windowAttainment = attainmentOf(window);
    const alertsFired: Record<string, number> = {};
    for (const a of facts.alertsFired) if (a.slo === slo.name && inPeriod(a.at, start, end)) alertsFired[a.severity] = (alertsFired[a.severity] ?? 0) + 1;
    const freezes = facts.freezes.filter(
      (f) => (f.slo === slo.name || f.services.includes(slo.service) || f.services.includes('*')) && overlapSeconds(f.start, f.end, start, end) > 0,
    );
    return {
      slo: slo.name,
      service: slo.service,
      objective: slo.objective,
      window: slo.window,
      attainment,
      windowAttainment,
      met: attainment === null ? null : attainment >= slo.objective,
      windowMet: windowAttainment === null ? null : windowAttainment >= slo.objective,
      budgetAtStart: budgetAt(own, start),
      budgetAtEnd: budgetAt(own, end),
      burnDown: period.map((s) => ({ at: iso(s.at), budgetRemaining: s.budgetRemaining, burnRate: s.burnRate })),
      alertsFired,
      freezes: { count: freezes.length, totalSeconds: freezes.reduce((n, f) => n + overlapSeconds(f.start, f.end, start, end), 0) },
      overridesGranted: facts.overrides.filter((o) => o.service === slo.service && inPeriod(o.at, start, end)).length,
    };
  });
  return { period: { from: iso(start), to: iso(end) }, generatedAt: iso(generatedAt), slos, response: responseOf(facts) };
}

/** A run passed first time: it succeeded with no step failed for good, no fallback and no compensation run. */
function firstPass(run: ReportFacts['runs'][number]): boolean {
  return run.state === 'succeeded' && !run.steps.some((s) => s.status === 'failed' || (s.started && (s.role === 'fallback' || s.role === 'compensation')));
}

function responseOf(facts: ReportFacts): ResponseReport {
  const { start, end } = facts.period;
  const real = facts.runs.filter((r) => !r.drill);
  const started = real.filter((r) => inPeriod(r.createdAt, start, end));
  const finished = real.filter((r) => r.endedAt !== null && inPeriod(r.endedAt, start, end));
  const runsStarted: Record<string, number> = {};
  for (const r of started) runsStarted[r.playbook] = (runsStarted[r.playbook] ?? 0) + 1;
  const seconds = (from: number, to: number) => (to - from) / 1000;
  const people = facts.humanSteps.filter((h) => !h.autoApproved && inPeriod(h.queuedAt, start, end));
  const auto = facts.humanSteps.filter((h) => h.autoApproved && inPeriod(h.queuedAt, start, end));
  const passed = finished.filter(firstPass).length;
  const response: ResponseReport = {
    runsStarted,
    timeToAcknowledge: spread(started.filter((r) => r.acknowledgedAt !== null).map((r) => seconds(r.createdAt, r.acknowledgedAt!))),
    timeToResolve: spread(finished.map((r) => seconds(r.createdAt, r.endedAt!))),
    humanQueueTime: spread(people.filter((h) => h.offeredAt !== null).map((h) => seconds(h.queuedAt, h.offeredAt!))),
    humanDecisionTime: spread(people.filter((h) => h.offeredAt !== null && h.decidedAt !== null).map((h) => seconds(h.offeredAt!, h.decidedAt!))),
    // Breached: not decided within its SLA of being offered (still open at the period end counts).
    slaBreaches: people.filter((h) => h.slaWithinMs !== null && (h.decidedAt ?? end) - (h.offeredAt ?? h.queuedAt) > h.slaWithinMs).length,
    escalations: facts.escalations,
    reassignments: facts.reassignments,
    firstPassYield: { finished: finished.length, firstPass: passed, ratio: finished.length > 0 ? passed / finished.length : null },
    deadLetteredSteps: facts.deadLetteredSteps,
    autoApprovals: { total: auto.length, sampledForReview: auto.filter((h) => h.sampledForReview).length },
  };
  if (facts.drills) {
    const drills = facts.drills.filter((d) => inPeriod(d.endedAt, start, end));
    const byFinalState: Record<string, number> = {};
    for (const d of drills) byFinalState[d.finalState] = (byFinalState[d.finalState] ?? 0) + 1;
    response.drills = {
      run: drills.length,
      byFinalState,
      gapsFound: drills.reduce((n, d) => n + d.gaps, 0),
      runs: drills.map((d) => ({ runId: d.runId, playbook: d.playbook, finalState: d.finalState, gaps: d.gaps })),
    };
  }
  return response;
}
