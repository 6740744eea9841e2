/**
 * Run and step states, and the transitions allowed between them. Every state change in the
 * SQL layer goes through `assertRunTransition` / `assertStepTransition`, so an impossible
 * transition (a cancelled run becoming succeeded after a late worker reports) is a loud bug,
 * not silent corruption.
 */
export const runStates = [
  'pending',
  'running',
  'waiting',
  'succeeded',
  'failed',
  'compensating',
  'compensated',
  'compensation_failed',
  'cancelled',
] as const;
export type RunState = (typeof runStates)[number];

export const terminalRunStates: ReadonlySet<RunState> = new Set(['succeeded', 'failed', 'compensated', 'compensation_failed', 'cancelled']);

/** The states in which a run's ordinary steps start attempts (in any other, sql/attempt.ts says `draining`). */
export const activeRunStates: ReadonlySet<RunState> = new Set(['pending', 'running', 'waiting']);

const runTransitions: Record<RunState, RunState[]> = {
  pending: ['running', 'waiting', 'succeeded', 'failed', 'cancelled', 'compensating'],
  running: ['waiting', 'succeeded', 'failed', 'compensating', 'cancelled'],
  waiting: ['running', 'succeeded', 'failed', 'compensating', 'cancelled'],
  // `failed`: a run that waited for in-flight siblings before planning its undo had nothing to undo.
  compensating: ['compensated', 'compensation_failed', 'failed', 'cancelled'],
  // Re-driving a dead-lettered step (`quench dlq retry`) reopens a failed run…
  failed: ['running'],
  // …or resumes a compensation that got stuck (also when a person resolves the failed undo by
  // hand: the older undos run, and the run is compensated when nothing is left unresolved).
  compensation_failed: ['compensating', 'compensated'],
  succeeded: [],
  compensated: [],
  cancelled: [],
};

export function canTransitionRun(from: RunState, to: RunState): boolean {
  return from === to || runTransitions[from].includes(to);
}

export const stepStatuses = [
  /** Created, waiting for its turn (not yet due). */
  'pending',
  /** Due: a worker should pick it up. */
  'ready',
  /** Leased by a worker; an attempt is in flight. */
  'running',
  /** Failed an attempt; waits for its back-off timer. */
  'retry_wait',
  /** Waits for a human decision, a timer or an event. */
  'waiting',
  'succeeded',
  'failed',
  /** Its `when` condition was false, or a branch not taken. */
  'skipped',
  'cancelled',
] as const;
export type StepStatus = (typeof stepStatuses)[number];

export const terminalStepStatuses: ReadonlySet<StepStatus> = new Set(['succeeded', 'failed', 'skipped', 'cancelled']);

const stepTransitions: Record<StepStatus, StepStatus[]> = {
  pending: ['ready', 'skipped', 'cancelled'],
  ready: ['running', 'skipped', 'cancelled'],
  running: ['running', 'succeeded', 'failed', 'retry_wait', 'waiting', 'skipped', 'ready', 'cancelled'],
  retry_wait: ['running', 'cancelled'],
  waiting: ['running', 'succeeded', 'failed', 'cancelled'],
  // `quench dlq retry` gives a failed step a new budget of attempts.
  failed: ['ready'],
  succeeded: [],
  skipped: [],
  cancelled: [],
};

export function canTransitionStep(from: StepStatus, to: StepStatus): boolean {
  return stepTransitions[from].includes(to);
}

export class TransitionError extends Error {
  constructor(what: 'run' | 'step', id: string, from: string, to: string) {
    super(`${what} ${id}: transition ${from} → ${to} is not allowed`);
    this.name = 'TransitionError';
  }
}

export function assertRunTransition(id: string, from: RunState, to: RunState): void {
  if (!canTransitionRun(from, to)) throw new TransitionError('run', id, from, to);
}

export function assertStepTransition(id: string, from: StepStatus, to: StepStatus): void {
  if (!canTransitionStep(from, to)) throw new TransitionError('step', id, from, to);
}
