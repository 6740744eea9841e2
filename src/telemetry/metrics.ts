import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/**
 * One registry per service instance (not prom-client's global), so tests can run several
 * services in one process. Capabilities register their own metrics on `registry`.
 */
export interface Metrics {
  readonly registry: Registry;
  readonly httpRequestDuration: Histogram<'method' | 'route' | 'status'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpRequestDuration = new Histogram({
    name: 'quench_http_request_duration_seconds',
    help: 'HTTP request duration by route pattern and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return { registry, httpRequestDuration };
}
