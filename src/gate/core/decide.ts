import { appliesTo, type BudgetReading, type Freeze, isActive, type Override, OVERRIDE_APPROVALS, type Risk } from './model.js';

/**
 * The gate's answer for one deploy, from the state in memory: blocked when an active freeze
 * covers the service and blocks this risk, unless an approved override names the service (and
 * this change, or every change). Pure: every replica computes the same answer from the same rows.
 */
export interface GateRequest {
  service: string;
  risk: Risk;
  changeId: string | undefined;
  nowMs: number;
}

export interface GateReason {
  freeze: string;
  kind: Freeze['kind'];
  slo: string | null;
  budgetRemaining: number | null;
  burnRate: number | null;
  message: string;
  /** Path of the SLO status (or the freeze) on this service. */
  link: string;
}

export interface GateAnswer {
  allowed: boolean;
  service: string;
  risk: Risk;
  change: string | null;
  reasons: GateReason[];
  freezes: Freeze[];
  /** When the last blocking freeze ends on its own; null while any lasts until recovery (or when allowed). */
  until: string | null;
  /** The override that let a frozen deploy through. */
  override?: { id: string; until: string; approvers: string[] };
}

export interface GateState {
  freezes: readonly Freeze[];
  overrides: readonly Override[];
  budgets: ReadonlyMap<string, BudgetReading>;
}

export function decide(state: GateState, req: GateRequest): GateAnswer {
  const blocking = state.freezes.filter(
    (f) => isActive(f.until, req.nowMs) && appliesTo(f, req.service) && (req.risk === 'high' || f.blocks === 'all'),
  );
  const base = { service: req.service, risk: req.risk, change: req.changeId ?? null };
  if (blocking.length === 0) return { allowed: true, ...base, reasons: [], freezes: [], until: null };
  const override = state.overrides.find(
    (o) =>
      o.service === req.service &&
      o.approvers.length >= OVERRIDE_APPROVALS &&
      Date.parse(o.until) > req.nowMs &&
      (o.changeId === null || o.changeId === req.changeId),
  );
  const reasons = blocking.map((f) => reasonOf(f, state.budgets));
  if (override) {
    return {
      allowed: true,
      ...base,
      reasons,
      freezes: blocking,
      until: null,
      override: { id: override.id, until: override.until, approvers: override.approvers },
    };
  }
  const ends = blocking.map((f) => f.until);
  const until = ends.includes(null) ? null : ends.reduce((a, b) => (Date.parse(b!) > Date.parse(a!) ? b : a), ends[0]!);
  return { allowed: false, ...base, reasons, freezes: blocking, until };
}

function reasonOf(f: Freeze, budgets: ReadonlyMap<string, BudgetReading>): GateReason {
  const reading = f.slo ? budgets.get(f.slo) : undefined;
  return {
    freeze: f.id,
    kind: f.kind,
    slo: f.slo,
    budgetRemaining: reading?.budgetRemaining ?? null,
    burnRate: reading?.currentBurn ?? null,
    message: f.slo ? `SLO ${f.slo}: ${f.reason}` : `${f.kind} freeze by ${f.createdBy}: ${f.reason}`,
    link: f.slo ? `/v1/slos/${encodeURIComponent(f.slo)}` : `/v1/freezes/${encodeURIComponent(f.id)}`,
  };
}

/** One line for CLI output and Slack. */
export function describeAnswer(a: GateAnswer): string {
  if (a.allowed && !a.override) return `allowed: ${a.service} (${a.risk} risk) has no freeze blocking it`;
  if (a.allowed) return `allowed by override ${a.override!.id} until ${a.override!.until}: ${a.reasons.map((r) => r.message).join('; ')}`;
  const burn = (r: GateReason) =>
    r.slo ? ` (budget ${r.budgetRemaining === null ? 'no data' : `${(r.budgetRemaining * 100).toFixed(1)}%`}, burn ${r.burnRate === null ? '—' : r.burnRate.toFixed(2)}×)` : '';
  return `frozen: ${a.service} (${a.risk} risk)${a.until ? ` until ${a.until}` : ''}: ${a.reasons.map((r) => `${r.message}${burn(r)}`).join('; ')}`;
}
