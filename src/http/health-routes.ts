import { z } from 'zod';
import type { Database } from '../db/database.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Router } from './router.js';

/**
 * A readiness probe must answer within the orchestrator's timeout (Kubernetes: 1 s by default)
 * even when the database does not: while PostgreSQL is away, a connection attempt can wait for
 * `connect_timeout` (10 s) and a query can queue behind a busy pool. Past this limit the answer
 * is 503, as for a database that refused.
 */
const READINESS_LIMIT_MS = 800;

function withinLimit(check: Promise<{ ok: boolean; reason?: string }>, ms: number): Promise<{ ok: boolean; reason?: string }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<{ ok: boolean; reason: string }>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, reason: `the database did not answer within ${ms} ms` }), ms);
  });
  return Promise.race([check.catch((err: Error) => ({ ok: false, reason: `readiness check failed: ${err.message}` })), late]).finally(() =>
    clearTimeout(timer),
  );
}

/** A capability's own readiness condition (e.g. the audit chain keeping up): ok, or why not. */
export type ReadinessCheck = () => Promise<{ ok: boolean; reason?: string }>;

const readySchema = z.object({ status: z.literal('ready'), database: z.enum(['pglite', 'postgres']) });
const notReadySchema = z.object({
  status: z.enum(['not_ready', 'stopping']),
  reason: z.string().optional().describe('Why not: the database, a migration, the audit chain (absent while stopping)'),
});

export function addHealthRoutes(
  router: Router,
  deps: { db: Database; metrics: Metrics; isStopping: () => boolean; checks?: readonly ReadinessCheck[] },
): void {
  router.add({
    method: 'GET',
    pattern: '/healthz',
    auth: 'public',
    doc: { summary: 'Liveness: 200 while the process runs', responses: { 200: { description: 'Alive', body: z.object({ status: z.literal('ok') }) } } },
    handler: () => ({ status: 200, body: { status: 'ok' } }),
  });
  router.add({
    method: 'GET',
    pattern: '/readyz',
    auth: 'public',
    doc: {
      summary: 'Readiness: the database answers, every migration is applied, the audit chain keeps up',
      responses: { 200: { description: 'Ready', body: readySchema }, 503: { description: 'Not ready (or shutting down), and why', body: notReadySchema } },
    },
    handler: async () => {
      if (deps.isStopping()) return { status: 503, body: { status: 'stopping' } satisfies z.input<typeof notReadySchema> };
      const ready = await withinLimit(
        deps.db.readiness().then(async (db) => {
          if (!db.ok) return db;
          for (const check of deps.checks ?? []) {
            const result = await check();
            if (!result.ok) return result;
          }
          return db;
        }),
        READINESS_LIMIT_MS,
      );
      return ready.ok
        ? { status: 200, body: { status: 'ready', database: deps.db.kind } satisfies z.input<typeof readySchema> }
        : { status: 503, body: { status: 'not_ready', reason: ready.reason } satisfies z.input<typeof notReadySchema> };
    },
  });
  router.add({
    method: 'GET',
    pattern: '/metrics',
    auth: 'public',
    doc: { summary: 'Prometheus exposition (docs/operations.md)', responses: { 200: { description: 'Process, HTTP, SLO, engine, ingest and chat metrics', contentType: 'text/plain' } } },
    handler: async () => ({
      status: 200,
      headers: { 'Content-Type': deps.metrics.registry.contentType },
      text: await deps.metrics.registry.metrics(),
    }),
  });
}
