import type { Engine } from '../engine/engine.js';
import type { PlaybookStore } from '../playbooks/store.js';
import type { StartPath } from './start.js';

/**
 * What Slack's run commands and Cancel button need of the service (src/chat/slack/run-commands.ts,
 * cancel.ts): the gated engine, the loaded playbooks, and scenario drills when the drills
 * capability runs. Read at call time: chat starts before runs and drills.
 */
export interface ScenarioStart {
  playbook: string;
  scenario: string;
  fail: string[];
  inputs: Record<string, unknown>;
  user: string;
  /** The person's other names (Slack id, email), as for a plain start (start.ts). */
  aliases?: string[];
  via: StartPath;
}

export interface ArmedScenario {
  armed: true;
  id: string;
  /** What to tell the person: the scenario is running and will fire the playbook's trigger. */
  message: string;
  /** The DRILL run, when the scenario's burn alert fired at once. */
  runId?: string;
}

export interface RunControl {
  engine: Engine;
  playbooks: PlaybookStore | undefined;
  startScenario?: (start: ScenarioStart) => Promise<ArmedScenario>;
}

/** Scenario drills, registered by the drills capability for its service context. */
const scenarios = new WeakMap<object, NonNullable<RunControl['startScenario']>>();
export function registerScenarioStarter(ctx: object, start: NonNullable<RunControl['startScenario']>): void {
  scenarios.set(ctx, start);
}

/** The run control of a service context (the engine is always there; scenarios when drills run). */
export function runControlOf(ctx: { ports: { engine: Engine; playbooks?: PlaybookStore | undefined } }): RunControl {
  const startScenario = scenarios.get(ctx);
  return { engine: ctx.ports.engine, playbooks: ctx.ports.playbooks, ...(startScenario ? { startScenario } : {}) };
}
