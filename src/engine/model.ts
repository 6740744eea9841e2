import type { Playbook } from '../playbooks/core/model.js';
import type { RunState, StepStatus } from './core/states.js';
import type { StepSpec } from './core/step-spec.js';
import type { engineRuns, engineSteps } from './schema.js';

/** Rows as the engine reads them (drizzle-inferred, with the json columns typed). */
export interface DrillOptions {
  fail?: string[];
  scenario?: string;
  /** A scenario's response delays: step key → ms before a simulated action answers (src/drills/simulate.ts). */
  delays?: Record<string, number>;
}
export type RunRow = Omit<typeof engineRuns.$inferSelect, 'state' | 'definition' | 'drill'> & {
  state: RunState;
  definition: Playbook;
  drill: DrillOptions | null;
};
export type StepRow = Omit<typeof engineSteps.$inferSelect, 'status' | 'spec'> & {
  status: StepStatus;
  spec: StepSpec & { params?: unknown; attemptBase?: number };
};

/** Who caused a change: a person (API/CLI/Slack identity) or a Quench component. */
export interface Actor {
  type: 'user' | 'system';
  id: string;
}

export const engineActor = (worker: string): Actor => ({ type: 'system', id: `engine:${worker}` });

/** A human step's answer. */
export type Decision =
  | { outcome: 'approve'; comment?: string }
  | { outcome: 'reject'; reason: string }
  | { outcome: 'choose'; value: string; comment?: string }
  | { outcome: 'input'; value: string };

/** The path a human-step decision came by; recorded in its audit entries. */
export type DecisionPath = 'slack' | 'api' | 'cli';
export interface DecisionContext {
  via?: DecisionPath;
  /**
   * Every other name the deciding person is known by (Slack id, profile email, Quench identity),
   * as the service resolved them; never taken from a request. The engine compares people by
   * these, so one person approving once in Slack and once over /v1 is one approver.
   */
  aliases?: string[];
}

/**
 * A human step's decision so far: four-eyes steps collect approvals before they complete.
 * A choice or input approval carries its `value`; every approval must carry the same one.
 */
export interface DecisionRecord {
  approvals: Array<{ by: string; at: string; value?: string; comment?: string; via?: DecisionPath; aliases?: string[] }>;
  final?: Decision & { by: string; at: string; via?: DecisionPath };
}
