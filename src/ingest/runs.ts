import type { TriggerEvent } from '../triggers/event.js';
import type { RoutablePlaybook } from './core/route.js';

/**
 * What ingest needs from the engine. The engine starts a run and delivers a signal each in its
 * own transaction, so ingest never calls it inside one of its own (on PGlite that would wait
 * on itself); instead decisions commit first with the effects they imply (ingest_effects), and
 * the effects are carried out afterwards, each made idempotent:
 *
 * - a run is named by its handle, the correlation id of the event that starts it; before
 *   starting, `findRun(handle)` looks for a run that an earlier, interrupted attempt started;
 * - a signal carries an idempotency key (its effect id) that the engine, or the adapter, uses
 *   to drop a repeat.
 */
export interface RunPort {
  /** The id of the run started with this correlation id, if there is one. */
  findRun(correlationId: string): Promise<string | undefined>;
  start(input: { playbook: string; event: TriggerEvent; correlationId: string }): Promise<{ runId: string }>;
  signal(runId: string, type: string, payload: Record<string, unknown>, idempotencyKey: string): Promise<void>;
}

/** The playbooks routing considers, read at call time so a reload takes effect on the next event. */
export type PlaybookSource = () => readonly RoutablePlaybook[];
