import type { Executor } from '../db/database.js';
import type { TriggerEvent } from '../triggers/event.js';
import type { RoutablePlaybook } from './core/route.js';

/**
 * What ingest needs from the engine: start a run, and deliver a signal to one. Both take the
 * processing transaction, so a run starts (or a signal lands) in the same commit that marks
 * the event processed: a crash before the commit leaves neither, a crash after leaves both,
 * and the event's unique dedup key stops a second start. src/ingest/engine-port.ts adapts the
 * engine to this port.
 */
export interface RunPort {
  start(tx: Executor, input: { playbook: string; event: TriggerEvent; correlationId: string }): Promise<{ runId: string }>;
  signal(tx: Executor, runId: string, type: string, payload: Record<string, unknown>): Promise<void>;
}

/** The playbooks routing considers, read at call time so a reload takes effect on the next event. */
export type PlaybookSource = () => readonly RoutablePlaybook[];
