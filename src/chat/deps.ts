import type { AuditTrail } from '../audit/trail.js';
import type { Clock } from '../core/clock.js';
import type { Database } from '../db/database.js';
import type { Actor, Decision, DecisionContext } from '../engine/model.js';
import type { HumanStepView } from '../engine/notifier.js';
import { readRun, readStep } from '../engine/sql/load.js';
import type { Logger } from '../telemetry/logger.js';
import type { ApprovalPolicy } from './core/auto-approval.js';
import type { ChatMetrics } from './metrics.js';
import type { People } from './people.js';
import type { ChatPort } from './port.js';
import type { GateForChat } from '../gate/slack.js';
import type { RunControl } from '../runs/control.js';
import type { PagerDutyEvents } from '../pagerduty/events.js';

/**
 * What the chat side of human steps needs, built once by the capability. The engine is read at
 * call time (it may start after chat), and only through `decide` and its read helpers.
 */
export interface EngineForChat {
  decide(stepId: string, decision: Decision, actor: Actor, context?: DecisionContext): Promise<unknown>;
}

export interface ChatDeps {
  db: Database;
  audit: AuditTrail;
  clock: Clock;
  logger: Logger;
  metrics: ChatMetrics;
  chat: ChatPort;
  people: People;
  policy: ApprovalPolicy;
  engine: () => EngineForChat | undefined;
  /** Where incident threads go when the playbook names no channel (label `slack-channel`). */
  channel: { fallback: string | undefined; perRun: boolean };
  /** The deploy gate's slash commands and status lines (src/gate/slack.ts), read at call time. */
  gate?: () => GateForChat | undefined;
  /** Starting and cancelling runs from Slack (src/chat/slack/run-commands.ts, cancel.ts), read at call time. */
  runs?: () => RunControl | undefined;
  /** PagerDuty Events API v2 (PAGERDUTY_ROUTING_KEY), for `/quench ack`; undefined when unset. */
  pagerDutyEvents?: PagerDutyEvents | undefined;
  /** The same for QUENCH_PAGERDUTY_DRILL_ROUTING_KEY: what a drill run paged through. */
  pagerDutyDrillEvents?: PagerDutyEvents | undefined;
}

/** The system actor for decisions the confidence × impact policy makes. */
export const POLICY_ACTOR: Actor = { type: 'system', id: 'chat:approval-policy' };

export type StoredView = Omit<HumanStepView, 'timeoutAt'> & { timeoutAt: string | null };

export async function engineOf(deps: ChatDeps): Promise<EngineForChat> {
  const engine = deps.engine();
  if (!engine) throw new Error('the engine is not running: human steps cannot be decided');
  return engine;
}

/** The engine's rows for a step, read-only. */
export async function engineRows(deps: Pick<ChatDeps, 'db'>, stepId: string) {
  const step = await readStep(deps.db.orm, stepId);
  const run = step ? await readRun(deps.db.orm, step.runId) : undefined;
  return { step, run };
}
