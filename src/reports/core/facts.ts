/**
 * What a report is computed from: stored rows, already read and typed (src/reports/facts.ts
 * reads them). Times are epoch milliseconds.
 */
export interface ReportSlo {
  name: string;
  service: string;
  objective: number;
  /** The SLO's own window (a calendar window: its current period's length). */
  windowMs: number;
  window: string;
  ownerChannel?: string;
}

export interface ReportSample {
  slo: string;
  at: number;
  errors: number;
  total: number;
  budgetRemaining: number | null;
  burnRate: number | null;
}

export interface ReportFacts {
  period: { start: number; end: number };
  slos: ReportSlo[];
  /** Samples of every SLO from the earliest of (period start, end − window) to the period end. */
  samples: ReportSample[];
  /** Alerts that turned `firing` in the period. */
  alertsFired: Array<{ slo: string; severity: string; at: number }>;
  freezes: Array<{ services: string[]; slo: string | null; start: number; end: number | null }>;
  overrides: Array<{ service: string; at: number }>;
  /** Runs created in the period, or ended in it. */
  runs: Array<{
    id: string;
    playbook: string;
    drill: boolean;
    state: string;
    createdAt: number;
    endedAt: number | null;
    acknowledgedAt: number | null;
    steps: Array<{ role: string; status: string; started: boolean }>;
  }>;
  /** Human steps queued in the period. */
  humanSteps: Array<{
    queuedAt: number;
    offeredAt: number | null;
    decidedAt: number | null;
    slaWithinMs: number | null;
    autoApproved: boolean;
    sampledForReview: boolean;
  }>;
  escalations: number;
  reassignments: number;
  deadLetteredSteps: number;
  /** Null when drills are not stored (no scorecards table). */
  drills: Array<{ runId: string; playbook: string; finalState: string; gaps: number; endedAt: number }> | null;
}
