import type { Database } from '../db/database.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Router } from './router.js';

export function addHealthRoutes(router: Router, deps: { db: Database; metrics: Metrics; isStopping: () => boolean }): void {
  router.add({ method: 'GET', pattern: '/healthz', auth: 'public', handler: () => ({ status: 200, body: { status: 'ok' } }) });
  router.add({
    method: 'GET',
    pattern: '/readyz',
    auth: 'public',
    handler: async () => {
      if (deps.isStopping()) return { status: 503, body: { status: 'stopping' } };
      const ready = await deps.db.readiness();
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
