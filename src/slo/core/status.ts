import type { AlertStatus } from './alerts.js';
import { attainment, budgetConsumed, budgetMinutes, budgetRemaining, timeToExhaustionMs } from './budget.js';
import { nominalPeriodMs } from './calendar.js';
import { formatDuration } from './duration.js';
import type { BurnWindow, Severity, Slo } from './model.js';

/**
 * What `quench slo status`, `GET /v1/slos` and the `slo` port report for one SLO. Ratios are
 * 0..1; `null` means no data (no traffic), never zero.
 */
export interface SloStatus {
  name: string;
  displayName?: string;
  service: string;
  owner?: { team?: string; slack?: string };
  objective: number;
  window: string;
  budgetingMethod: Slo['budgeting']['method'];
  source: Slo['sli']['source'];
  /** ok: evaluated with data; no_data: evaluated, no traffic; error: the last evaluation failed; not_evaluated: nothing to evaluate (yet). */
  state: 'ok' | 'no_data' | 'error' | 'not_evaluated';
  error?: string;
  evaluatedAt: string | null;
  attainment: number | null;
  errorBudget: { remaining: number | null; consumed: number | null; totalMinutes: number; remainingMinutes: number | null };
  /** Burn rate per alert window, keyed `5m`, `1h`, …. */
  burnRates: Record<string, number | null>;
  /** At the current (fastest page window's) burn rate; null when nothing burns or no data. */
  timeToExhaustionSeconds: number | null;
  /**
   * Per severity: `breaching` window sets; `noData` window sets that could not be judged for
   * lack of data (the state is then held, never resolved by a gap).
   */
  alerts: Record<Severity, { status: AlertStatus; since: string | null; breaching: string[]; noData: string[] }>;
  policy: Slo['policy'];
}

/**
 * How the SLO window is shown (`quench slo status`, `/v1/slos`, the weekly report). A whole-day
 * rolling window is shown in days: formatDuration picks the largest unit, as PromQL ranges read,
 * and turned the `28d` users write into `4w` beside a `30d` that stayed.
 */
export function describeWindow(slo: Slo): string {
  const w = slo.window;
  if (w.kind === 'rolling') return w.ms % 86_400_000 === 0 ? `${w.ms / 86_400_000}d` : formatDuration(w.ms);
  const unit = { d: 'day', w: 'week', M: 'month', Q: 'quarter', Y: 'year' }[w.unit];
  return `calendar ${w.count === 1 ? unit : `${w.count} ${unit}s`} (${w.timeZone})`;
}

export const windowLabel = (w: BurnWindow) =>
  `${formatDuration(w.longMs)}/${formatDuration(w.shortMs)}${w.op === 'gte' ? '>=' : '>'}${round(w.factor)}`;

const round = (n: number) => Math.round(n * 1000) / 1000;

export interface StatusInput {
  slo: Slo;
  nowMs: number;
  /** Error ratio over the SLO window so far. */
  windowRatio: number | null;
  /**
   * Share of the period elapsed in the window read: 1 for rolling windows; for calendar windows
   * the elapsed time (or the elapsed slices, for the time-slice methods) over the period's.
   */
  elapsedShare?: number;
  /** Full SLO window length (a calendar month's own). */
  periodMs: number;
  burnByWindowMs: ReadonlyMap<number, number | null>;
  alerts: SloStatus['alerts'];
}

/** Pure: the status from one evaluation's readings. */
export function buildStatus(input: StatusInput): SloStatus {
  const { slo, windowRatio, periodMs } = input;
  const share = input.elapsedShare ?? 1;
  const remaining = budgetRemaining(windowRatio, slo.objective, share);
  const totalMinutes = budgetMinutes(slo.objective, periodMs);
  const burnRates: Record<string, number | null> = {};
  for (const [ms, burn] of [...input.burnByWindowMs].sort((a, b) => a[0] - b[0])) burnRates[formatDuration(ms)] = burn;
  // "Current" burn: the fastest page window's long window (1h by default).
  const pageLongs = slo.alerting.windows.filter((w) => w.severity === 'page').map((w) => w.longMs);
  const currentMs = pageLongs.length > 0 ? Math.min(...pageLongs) : Math.min(...slo.alerting.windows.map((w) => w.longMs));
  const current = input.burnByWindowMs.get(currentMs) ?? null;
  const tte = timeToExhaustionMs(remaining, current, periodMs);
  return {
    ...identity(slo),
    state: windowRatio === null ? 'no_data' : 'ok',
    evaluatedAt: new Date(input.nowMs).toISOString(),
    attainment: attainment(windowRatio),
    errorBudget: {
      remaining,
      consumed: budgetConsumed(windowRatio, slo.objective, share),
      totalMinutes,
      remainingMinutes: remaining === null ? null : remaining * totalMinutes,
    },
    burnRates,
    timeToExhaustionSeconds: tte === null ? null : Math.round(tte / 1000),
    alerts: input.alerts,
    policy: slo.policy,
  };
}

/** What a status says about the SLO itself, evaluated or not. */
function identity(slo: Slo) {
  return {
    name: slo.name,
    ...(slo.displayName ? { displayName: slo.displayName } : {}),
    service: slo.service,
    ...(slo.owner ? { owner: slo.owner } : {}),
    objective: slo.objective,
    window: describeWindow(slo),
    budgetingMethod: slo.budgeting.method,
    source: slo.sli.source,
  };
}

/** Status before any evaluation (or for SLOs with nothing to evaluate). */
export function pendingStatus(slo: Slo, state: SloStatus['state'], error?: string): SloStatus {
  return {
    ...identity(slo),
    state,
    ...(error ? { error } : {}),
    evaluatedAt: null,
    attainment: null,
    errorBudget: {
      remaining: null,
      consumed: null,
      totalMinutes: budgetMinutes(slo.objective, nominalPeriodMs(slo.window)),
      remainingMinutes: null,
    },
    burnRates: {},
    timeToExhaustionSeconds: null,
    alerts: {
      page: { status: 'inactive', since: null, breaching: [], noData: [] },
      ticket: { status: 'inactive', since: null, breaching: [], noData: [] },
    },
    policy: slo.policy,
  };
}
