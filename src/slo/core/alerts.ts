import { enoughTraffic } from './budget.js';
import type { Alerting, BurnWindow, Severity } from './model.js';

/**
 * Burn-rate alert conditions and the per-(SLO, severity) state machine:
 *
 *   inactive ─breach→ pending ─held `for`→ firing ─clear→ resolved ─breach→ pending …
 *        ↑            └─clear→ inactive
 *
 * A firing page suppresses the ticket of the same SLO (a ticket never starts firing while the
 * page fires, though it may go pending), so one burn notifies once, as Alertmanager inhibit
 * rules do for Sloth's alerts. A window set without data holds the state (see `judgeWindows`).
 */
export type AlertStatus = 'inactive' | 'pending' | 'firing' | 'resolved';

export interface AlertState {
  status: AlertStatus;
  /** When the current status began (ms since epoch). */
  sinceMs: number;
}

export const initialAlertState = (nowMs: number): AlertState => ({ status: 'inactive', sinceMs: nowMs });

export interface WindowReading {
  burn: number | null;
  /** Requests in the window; undefined when the SLI has no request volume (raw, threshold): no guard. */
  requests?: number;
}

/** Whether a window's burn passes its set's factor (`gt` by default, OpenSLO `op: gte` too). */
export function exceeds(burn: number, w: Pick<BurnWindow, 'factor' | 'op'>): boolean {
  return w.op === 'gte' ? burn >= w.factor : burn > w.factor;
}

export interface WindowConditions {
  /** Window sets whose long and short windows both burn above the factor, each with enough requests. */
  breaching: BurnWindow[];
  /** Window sets that cannot be judged: their long or short window has no data. */
  noData: BurnWindow[];
}

/**
 * Judges every window set. A set with a window without data is neither breaching nor clear:
 * losing data must not resolve a page (the evaluator holds the state and reports "no data").
 */
export function judgeWindows(alerting: Alerting, readings: ReadonlyMap<number, WindowReading>): WindowConditions {
  const breaching: BurnWindow[] = [];
  const noData: BurnWindow[] = [];
  for (const w of alerting.windows) {
    const long = readings.get(w.longMs);
    const short = readings.get(w.shortMs);
    if (!long || !short || long.burn === null || short.burn === null) {
      noData.push(w);
      continue;
    }
    const guarded = [long, short].every((r) => r.requests === undefined || enoughTraffic(r.requests, alerting.minEvents));
    if (guarded && exceeds(long.burn, w) && exceeds(short.burn, w)) breaching.push(w);
  }
  return { breaching, noData };
}

/** Which burn windows are breaching: both windows above the factor, each with enough requests. */
export function breachingWindows(alerting: Alerting, readings: ReadonlyMap<number, WindowReading>): BurnWindow[] {
  return judgeWindows(alerting, readings).breaching;
}

export interface StepInput {
  breaching: boolean;
  /** Not breaching, but some window set could not be judged (no data): hold the current state. */
  noData?: boolean;
  nowMs: number;
  forMs: number;
  /** True for a ticket while the page of the same SLO fires: it may wait, not fire. */
  suppressed?: boolean;
}

export interface StepResult {
  state: AlertState;
  /** Set when the status changed. */
  changed?: { from: AlertStatus; to: AlertStatus };
}

export function stepAlert(state: AlertState, input: StepInput): StepResult {
  const to = nextStatus(state, input);
  if (to === state.status) return { state };
  return { state: { status: to, sinceMs: input.nowMs }, changed: { from: state.status, to } };
}

function nextStatus(state: AlertState, { breaching, noData, nowMs, forMs, suppressed }: StepInput): AlertStatus {
  // No data decides nothing: a firing page stays firing, a pending alert keeps waiting.
  const hold = !breaching && noData === true;
  switch (state.status) {
    case 'inactive':
    case 'resolved':
      if (!breaching) return state.status;
      return forMs <= 0 && !suppressed ? 'firing' : 'pending';
    case 'pending':
      if (hold) return 'pending';
      if (!breaching) return 'inactive';
      // A ticket waiting while the page fires keeps its start: once the page resolves it fires
      // as soon as its condition has held for `for`, not a fresh `for` later.
      return !suppressed && nowMs - state.sinceMs >= forMs - forJitterMs(forMs) ? 'firing' : 'pending';
    case 'firing':
      // An already-firing ticket stays open when a page starts: closing it would be a false "recovered".
      return breaching || hold ? 'firing' : 'resolved';
  }
}

/**
 * How much earlier than `for` a pending alert may fire. Evaluations run on a cron schedule, but
 * each SLO is read at the moment its queries finish: with `for: 1m` on a one-minute schedule, a
 * condition that went pending at 10:00:00.015 is 59.998 s old at the next evaluation, and would
 * fire a whole cycle late (or not, by milliseconds of chance). A tenth of `for`, at most 5 s,
 * absorbs that jitter without firing a real cycle early.
 */
export function forJitterMs(forMs: number): number {
  return Math.min(5_000, forMs / 10);
}

/** Steps both severities of one SLO, page first so that it can suppress the ticket. */
export function stepSlo(
  states: Record<Severity, AlertState>,
  breaching: Record<Severity, boolean>,
  forMs: Record<Severity, number>,
  enabled: Record<Severity, boolean>,
  nowMs: number,
  noData: Record<Severity, boolean> = { page: false, ticket: false },
): Record<Severity, StepResult> {
  const page = stepAlert(states.page, { breaching: enabled.page && breaching.page, noData: enabled.page && noData.page, nowMs, forMs: forMs.page });
  const ticket = stepAlert(states.ticket, {
    breaching: enabled.ticket && breaching.ticket,
    noData: enabled.ticket && noData.ticket,
    nowMs,
    forMs: forMs.ticket,
    suppressed: page.state.status === 'firing',
  });
  return { page, ticket };
}
