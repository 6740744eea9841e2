import { and, eq, sql } from 'drizzle-orm';
import { isQuenchError, QuenchError } from '../core/errors.js';
import type { Database } from '../db/database.js';
import type { Engine } from '../engine/engine.js';
import { engineEvents } from '../engine/schema.js';
import type { PlaybookStore } from '../playbooks/store.js';
import type { RunPort } from './runs.js';

const actor = { type: 'system', id: 'ingest' } as const;

/**
 * The engine behind ingest's RunPort. `engine.startRun` and `engine.signal` each commit their
 * own transaction; this adapter adds what ingest's exactly-once needs on top: finding a run by
 * its handle (the correlation id it was started with), and dropping a signal whose
 * idempotency key the run already holds (read from the engine's stored events, the only
 * place the engine keeps it).
 */
export function engineRunPort(engine: Engine, db: Database, playbooks: () => PlaybookStore | undefined): RunPort {
  return {
    findRun: async (handle) => (await engine.listRuns({ correlationId: handle, limit: 1 }))[0]?.id,
    async start({ playbook, event, correlationId }) {
      const version = playbooks()?.current(playbook);
      if (!version) {
        throw new QuenchError(
          'not_found',
          `playbook '${playbook}' is not loaded (removed since routing?); its run for correlation id ${correlationId} cannot start`,
        );
      }
      const run = await engine.startRun({
        playbook: { definition: version.definition, hash: version.hash },
        trigger: event,
        correlationId,
        // Insert-or-adopt: a second start for this handle (a worker that lost its lease) gets the same run.
        startKey: `ingest:${correlationId}`,
        actor,
      });
      return { runId: run.runId };
    },
    async signal(runId, type, payload, idempotencyKey) {
      const [seen] = await db.orm
        .select({ seq: engineEvents.seq })
        .from(engineEvents)
        .where(
          and(
            eq(engineEvents.runId, runId),
            eq(engineEvents.type, type),
            sql`${engineEvents.payload}->>'idempotencyKey' = ${idempotencyKey}`,
          ),
        )
        .limit(1);
      if (seen) return;
      try {
        await engine.signal({ runId }, { type, payload: { ...payload, idempotencyKey } }, actor);
      } catch (err) {
        // A run that already ended takes no more events: the alert outlived it, nothing to deliver.
        if (isQuenchError(err, 'conflict')) return;
        throw err;
      }
    },
  };
}
