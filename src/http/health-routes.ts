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

export function addHealthRoutes(
  router: Router,
  deps: { db: Database; metrics: Metrics; isStopping: () => boolean; checks?: readonly ReadinessCheck[] },
): void {
  router.add({ method: 'GET', pattern: '/healthz', auth: 'public', handler: () => ({ status: 200, body: { status: 'ok' } }) });
  router.add({
    method: 'GET',
    pattern: '/readyz',
    auth: 'public',
    handler: async () => {
      if (deps.isStopping()) return { status: 503, body: { status: 'stopping' } };
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
        ? { status: 200, body: { status: 'ready', database: deps.db.kind } }
        : { status: 503, body: { status: 'not_ready', reason: ready.reason } };
    },
  });
  router.add({
    method: 'GET',
    pattern: '/metrics',
    auth: 'public',
    handler: async () => ({
      status: 200,
      headers: { 'Content-Type': deps.metrics.registry.contentType },
      text: await deps.metrics.registry.metrics(),
    }),
  });
}
