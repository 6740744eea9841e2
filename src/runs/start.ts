import { randomUUID } from 'node:crypto';
import { QuenchError } from '../core/errors.js';
import type { Engine } from '../engine/engine.js';
import type { RunState } from '../engine/core/states.js';
import type { PlaybookStore } from '../playbooks/store.js';
import type { TriggerEvent } from '../triggers/event.js';

/** How a person asked: recorded in the run's trigger and the audit entries. */
export type StartPath = 'api' | 'cli' | 'slack';

export interface PersonStart {
  playbook: string;
  inputs?: Record<string, unknown>;
  /** The person, as their API token or Slack identity names them. */
  user: string;
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
 * A drill step named in `fail` must exist: a typo would otherwise make a drill that tests nothing.
 */
export async function startPersonRun(engine: Engine, playbooks: PlaybookStore | undefined, start: PersonStart): Promise<StartedRun> {
  const version = playbooks?.current(start.playbook);
  if (!version) {
    const known = playbooks?.list().map((p) => p.name) ?? [];
    throw new QuenchError('not_found', `no playbook named '${start.playbook}'; loaded: ${known.join(', ') || 'none'} (QUENCH_PLAYBOOK_DIR)`);
  }
  const fail = start.drill?.fail ?? [];
  const stepIds = allStepIds(version.definition.steps);
  const unknown = fail.filter((s) => !stepIds.includes(s));
  if (unknown.length)
    throw new QuenchError('validation_failed', `fail= names no step of '${start.playbook}': ${unknown.join(', ')}; its steps: ${stepIds.join(', ')}`);
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
  });
  return { ...run, playbook: start.playbook, drill: Boolean(start.drill), startedBy: `user:${start.user}` };
}

/** Every step id, nested parallel branches included (what `fail=` may name). */
function allStepIds(steps: readonly unknown[]): string[] {
  return steps.flatMap((raw) => {
    const s = raw as { id: string; branches?: Array<{ steps?: unknown[] }> };
    return [s.id, ...(s.branches ?? []).flatMap((b) => allStepIds(b.steps ?? []))];
  });
}
