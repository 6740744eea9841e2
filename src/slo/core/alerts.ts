import { enoughTraffic, type WindowCounts } from './budget.js';
import type { Alerting, BurnWindow, Severity } from './model.js';

/**
 * Burn-rate alert conditions and the per-(SLO, severity) state machine:
 *
 *   inactive ─breach→ pending ─held `for`→ firing ─clear→ resolved ─breach→ pending …
 *        ↑            └─clear→ inactive
 *
 * A firing page suppresses the ticket of the same SLO (a ticket never starts firing while the
 * page fires), so one burn notifies once, as Alertmanager inhibit rules do for Sloth's alerts.
 */
export type AlertStatus = 'inactive' | 'pending' | 'firing' | 'resolved';

export interface AlertState {
  status: AlertStatus;
  /** When the current status began (ms since epoch). */
  sinceMs: number;
}

export const initialAlertState = (nowMs: number): AlertState => ({ status: 'inactive', sinceMs: nowMs });

export interface WindowReading {
  counts?: WindowCounts;
  burn: number | null;
}

/** Which burn windows are breaching: both windows above the factor, each with enough traffic. */
export function breachingWindows(alerting: Alerting, readings: ReadonlyMap<number, WindowReading>): BurnWindow[] {
  return alerting.windows.filter((w) => {
    const long = readings.get(w.longMs);
    const short = readings.get(w.shortMs);
    if (!long || !short || long.burn === null || short.burn === null) return false;
    // Raw-ratio SLIs carry no volume (counts undefined): the guard cannot apply to them.
    if (long.counts && !enoughTraffic(long.counts, alerting.minEvents)) return false;
    if (short.counts && !enoughTraffic(short.counts, alerting.minEvents)) return false;
    return long.burn > w.factor && short.burn > w.factor;
  });
}

export interface StepInput {
  breaching: boolean;
  nowMs: number;
  forMs: number;
  /** True for a ticket while the page of the same SLO fires. */
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

function nextStatus(state: AlertState, { breaching, nowMs, forMs, suppressed }: StepInput): AlertStatus {
  switch (state.status) {
    case 'inactive':
    case 'resolved':
      if (!breaching || suppressed) return state.status;
      return forMs <= 0 ? 'firing' : 'pending';
    case 'pending':
      if (!breaching || suppressed) return 'inactive';
      return nowMs - state.sinceMs >= forMs ? 'firing' : 'pending';
    case 'firing':
      // An already-firing ticket stays open when a page starts: closing it would be a false "recovered".
      return breaching ? 'firing' : 'resolved';
  }
}

/** Steps both severities of one SLO, page first so that it can suppress the ticket. */
export function stepSlo(
  states: Record<Severity, AlertState>,
  breaching: Record<Severity, boolean>,
  forMs: Record<Severity, number>,
  enabled: Record<Severity, boolean>,
  nowMs: number,
): Record<Severity, StepResult> {
  const page = stepAlert(states.page, { breaching: enabled.page && breaching.page, nowMs, forMs: forMs.page });
  const ticket = stepAlert(states.ticket, {
    breaching: enabled.ticket && breaching.ticket,
    nowMs,
    forMs: forMs.ticket,
    suppressed: page.state.status === 'firing',
  });
  return { page, ticket };
}
