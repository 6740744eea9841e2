/**
 * A human step's SLA clock: a reminder at `remindAt` × `within` after the step was offered, then
 * escalation at `within`. Pure: the caller persists which of the two already fired, and the
 * durable timer (the next `at` stored in the database) survives restarts.
 */
export interface SlaClock {
  offeredAt: Date;
  withinMs: number;
  /** Fraction of `withinMs` (0..1, exclusive). */
  remindAt: number;
  reminded: boolean;
  escalated: boolean;
}

export type SlaDue = { kind: 'remind' | 'escalate'; at: Date };

/** The next SLA event, or `undefined` when both have fired. */
export function nextSlaEvent(clock: SlaClock): SlaDue | undefined {
  const start = clock.offeredAt.getTime();
  if (!clock.reminded) return { kind: 'remind', at: new Date(start + Math.round(clock.withinMs * clock.remindAt)) };
  if (!clock.escalated) return { kind: 'escalate', at: new Date(start + clock.withinMs) };
  return undefined;
}

/** Events due at `now`, in order: a restart after both deadlines still reminds before it escalates. */
export function dueSlaEvents(clock: SlaClock, now: Date): Array<SlaDue['kind']> {
  const out: Array<SlaDue['kind']> = [];
  const state = { ...clock };
  for (let next = nextSlaEvent(state); next && next.at.getTime() <= now.getTime(); next = nextSlaEvent(state)) {
    out.push(next.kind);
    if (next.kind === 'remind') state.reminded = true;
    else state.escalated = true;
  }
  return out;
}

/** "4m 10s" for the message's waiting clock. */
export function formatWaiting(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${sec}s`;
  return `${sec}s`;
}
