import { randomUUID } from 'node:crypto';
import { QuenchError } from '../core/errors.js';
import type { Engine } from '../engine/engine.js';
import type { RunState } from '../engine/core/states.js';
import type { PlaybookStore } from '../playbooks/store.js';
import type { TriggerEvent } from '../triggers/event.js';
import { parseFaults } from '../drills/core/faults.js';

/** How a person asked: recorded in the run's trigger and the audit entries. */
export type StartPath = 'api' | 'cli' | 'slack';

export interface PersonStart {
  playbook: string;
  inputs?: Record<string, unknown>;
  /** The person, as their API token or Slack identity names them. */
  user: string;
  /** The person's other names as the service resolved them (Slack id and profile email), so none of them approves the run. */
  aliases?: string[];
  via: StartPath;
  /** Present for a drill: steps that fail on purpose. */
  drill?: { fail?: string[] };
}

export interface StartedRun {
  runId: string;
  correlationId: string;
  state: RunState;
  playbook: string;
  drill: boolean;
  startedBy: string;
}

/**
 * Starts a run for a person: the current version of the named playbook, the inputs checked
 * against its declarations by the engine (the rules `quench validate` applies to defaults),
 * `startedBy` = `user:<name>` (so the engine refuses that person as an approver of the run's
 * human steps), and a synthetic trigger (`manual` or `drill`) saying who asked and by which path.
 * A drill step named in `fail` (`STEP`, `STEP:once`, `STEP:always`) must exist: a typo would
 * otherwise make a drill that tests nothing.
 */
export async function startPersonRun(engine: Engine, playbooks: PlaybookStore | undefined, start: PersonStart): Promise<StartedRun> {
  const version = playbooks?.current(start.playbook);
  if (!version) {
    const known = playbooks?.list().map((p) => p.name) ?? [];
    throw new QuenchError('not_found', `no playbook named '${start.playbook}'; loaded: ${known.join(', ') || 'none'} (QUENCH_PLAYBOOK_DIR)`);
  }
  const fail = start.drill?.fail ?? [];
  checkFaults(start.playbook, version.definition.steps, fail);
  const correlationId = randomUUID();
  const source = start.drill ? 'drill' : 'manual';
  const trigger: TriggerEvent = {
    source,
    type: start.drill ? 'drill.started' : 'run.requested',
    key: `${source}:${correlationId}`,
    summary: `${start.drill ? 'DRILL: ' : ''}${start.playbook} started by ${start.user} via ${start.via}`,
    labels: { requestedBy: start.user, via: start.via, ...(start.drill ? { drill: 'true' } : {}) },
    annotations: {},
    occurredAt: new Date(),
    resolved: false,
    correlationId,
  };
  const run = await engine.startRun({
    playbook: { definition: version.definition, hash: version.hash },
    trigger,
    inputs: start.inputs ?? {},
    correlationId,
    ...(start.drill ? { drill: fail.length ? { fail } : {} } : {}),
    actor: { type: 'user', id: start.user },
    ...(start.aliases ? { starterAliases: start.aliases } : {}),
  });
  return { ...run, playbook: start.playbook, drill: Boolean(start.drill), startedBy: `user:${start.user}` };
}

/** Refuses `fail=` specs that are malformed or name no step of the playbook. */
export function checkFaults(playbook: string, steps: readonly unknown[], fail: readonly string[]): void {
  const faults = parseFaults(fail);
  if (!faults.ok) throw new QuenchError('validation_failed', faults.problem);
  const stepIds = allStepIds(steps);
  const unknown = faults.faults.map((f) => f.step).filter((s) => !stepIds.includes(s));
  if (unknown.length) throw new QuenchError('validation_failed', `fail= names no step of '${playbook}': ${unknown.join(', ')}; its steps: ${stepIds.join(', ')}`);
}

/** Every step id, nested parallel branches included (what `fail=` may name). */
function allStepIds(steps: readonly unknown[]): string[] {
  return steps.flatMap((raw) => {
    const s = raw as { id: string; branches?: Array<{ steps?: unknown[] }> };
    return [s.id, ...(s.branches ?? []).flatMap((b) => allStepIds(b.steps ?? []))];
  });
}
