import type { Registry } from 'prom-client';
import { builtinActions } from '../actions/builtins.js';
import type { ActionRegistry } from '../actions/registry.js';
import type { AuditTrail } from '../audit/trail.js';
import type { Config } from '../config/load.js';
import type { Clock } from '../core/clock.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../telemetry/logger.js';
import type { TriggerEvent } from '../triggers/event.js';
import type { RunState } from './core/states.js';
import { closeCancelled } from './complete.js';
import { notifySafely } from './notify.js';
import { createSlotHandoff } from './handoff.js';
import { createEngineMetrics } from './metrics.js';
import { QuenchError } from '../core/errors.js';
import type { Actor, Decision, DecisionContext } from './model.js';
import { type HumanStepNotifier, noNotifier } from './notifier.js';
import { defaultEngineOptions, type EngineOptions, type Runtime } from './runtime.js';
import { cancelRun } from './sql/cancel.js';
import { type DecideOutcome, decideStep } from './sql/decide.js';
import { type DeadLetter, listDeadLetters, retryDeadLetter } from './sql/dlq.js';
import { getRun, listHumanSteps, listRuns, type RunDetail, type RunSummary } from './sql/queries.js';
import { type SignalResult, type SignalTarget, signalRuns } from './sql/signal.js';
import { type StartRunInput, startRun } from './sql/start-run.js';
import { createTracing } from './tracing.js';
import { createEngineWaker } from './wake.js';
import { createWorker, type Worker } from './worker.js';

/**
 * The engine's public API: what ingest (start runs, attach alerts, deliver `alert.resolved`),
 * chat (decide human steps, hear about them), the CLI and `/v1` use. See ARCHITECTURE.md.
 */
export interface Engine {
  /** Register custom actions here (PagerDuty, Slack, deploy gate): `engine.actions.register(defineAction({...}))`. */
  readonly actions: ActionRegistry;
  startRun(input: StartRunInput): Promise<{ runId: string; correlationId: string; state: RunState }>;
  /** Delivers an event to one run, or to every open run with a correlation id. */
  signal(target: SignalTarget, event: { type: string; payload?: unknown }, actor?: Actor): Promise<SignalResult>;
  /** Storm control: another alert joined this run (`run.events` shows it; waits can match it). */
  attachAlert(runId: string, alert: TriggerEvent, actor?: Actor): Promise<void>;
  /**
   * Decides a human step. A four-eyes choice or input whose value differs from the first
   * approver's throws `conflict` after discarding both answers (the step asks again).
   */
  decide(
    stepId: string,
    decision: Decision,
    actor: Actor,
    context?: DecisionContext,
  ): Promise<Exclude<DecideOutcome, { status: 'mismatch' }> & { runId: string }>;
  /** The run's state after: `cancelled`, or `compensating` when its playbook says `onCancel: compensate`. */
  cancel(runId: string, actor: Actor, reason: string): Promise<{ state: RunState }>;
  listRuns(options?: Parameters<typeof listRuns>[1]): Promise<RunSummary[]>;
  getRun(id: string): Promise<RunDetail | undefined>;
  listHumanSteps(options?: { status?: 'waiting' | 'succeeded' | 'failed' | 'cancelled' }): ReturnType<typeof listHumanSteps>;
  listDeadLetters(options?: { all?: boolean; limit?: number }): Promise<DeadLetter[]>;
  retryDeadLetter(id: string, actor: Actor): Promise<{ runId: string; stepId: string }>;
  /** Chat installs its notifier at start; the default does nothing. */
  setNotifier(notifier: HumanStepNotifier): void;
  /** A worker on this process; `quench serve` starts one. */
  createWorker(id?: string): Worker;
}

export interface EngineDeps {
  db: Database;
  audit: AuditTrail;
  clock: Clock;
  logger: Logger;
  config: Config;
  /** Where engine metrics register; omit for none. */
  registry?: Registry;
  /** The service's ports, read when an action runs. */
  ports?: () => Record<string, unknown>;
  options?: Partial<EngineOptions>;
  random?: () => number;
  env?: NodeJS.ProcessEnv;
  actions?: ActionRegistry;
}

export function createEngine(deps: EngineDeps): Engine {
  let notifier: HumanStepNotifier = noNotifier;
  const logger = deps.logger.child({ component: 'engine' });
  const rt: Runtime = {
    db: deps.db,
    audit: deps.audit,
    clock: deps.clock,
    logger,
    config: deps.config,
    actions: deps.actions ?? builtinActions(),
    metrics: createEngineMetrics(deps.registry, deps.db),
    tracing: createTracing(),
    notifier: () => notifier,
    ports: deps.ports ?? (() => ({})),
    env: deps.env ?? process.env,
    random: deps.random ?? Math.random,
    options: { ...defaultEngineOptions, ...deps.options },
    breakers: new Map(),
    wake: createEngineWaker(deps.db, (err) => logger.warn({ err }, 'waking other replicas failed; their poll picks the step up')),
    handoff: createSlotHandoff(),
  };
  const system: Actor = { type: 'system', id: 'engine' };
  return {
    actions: rt.actions,
    async startRun(input) {
      const run = await startRun(rt, input);
      return { runId: run.id, correlationId: run.correlationId, state: run.state };
    },
    async signal(target, event, actor = system) {
      const result = await signalRuns(rt, target, event, actor);
      if (result.completedSteps.length > 0) rt.wake.wake();
      return result;
    },
    async attachAlert(runId, alert, actor = system) {
      const result = await signalRuns(rt, { runId }, { type: 'alert.attached', payload: JSON.parse(JSON.stringify(alert)) }, actor);
      if (result.completedSteps.length > 0) rt.wake.wake();
    },
    async decide(stepId, decision, actor, context) {
      const outcome = await decideStep(rt, stepId, decision, actor, context);
      rt.wake.wake();
      if (outcome.status === 'mismatch') {
        await notifySafely(rt, () =>
          notifier.closed({ stepId, runId: outcome.runId, correlationId: outcome.correlationId, outcome: 'approvals_reset', by: actor.id }),
        );
        throw new QuenchError('conflict', outcome.message, { details: { refusal: 'value_mismatch', values: outcome.values } });
      }
      await notifySafely(rt, () =>
        notifier.closed({
          stepId,
          runId: outcome.runId,
          correlationId: outcome.correlationId,
          outcome: outcome.status === 'decided' ? 'decided' : 'approval_recorded',
          decision,
          by: actor.id,
        }),
      );
      await closeCancelled(rt, outcome.runId, outcome.cancelledHumanSteps ?? [], actor.id);
      return outcome;
    },
    async cancel(runId, actor, reason) {
      const { waitingHumanSteps, correlationId, state } = await cancelRun(rt, runId, actor, reason);
      // `onCancel: compensate` readied the first undo.
      if (state === 'compensating') rt.wake.wake();
      for (const s of waitingHumanSteps)
        await notifySafely(rt, () => notifier.closed({ stepId: s.id, runId, correlationId, outcome: 'cancelled', by: actor.id }));
      return { state };
    },
    listRuns: (options) => listRuns(rt.db, options),
    getRun: (id) => getRun(rt.db, id),
    listHumanSteps: (options) => listHumanSteps(rt.db, options?.status ?? 'waiting'),
    listDeadLetters: (options) => listDeadLetters(rt, options),
    async retryDeadLetter(id, actor) {
      const retried = await retryDeadLetter(rt, id, actor);
      rt.wake.wake();
      return retried;
    },
    setNotifier(n) {
      notifier = n;
    },
    createWorker: (id) => createWorker(rt, id),
  };
}
