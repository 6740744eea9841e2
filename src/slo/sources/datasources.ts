import type { DataSourceRef } from '../core/model.js';
import { PrometheusClient } from './prometheus-client.js';
import { prometheusSource } from './prometheus.js';
import type { SliSource } from './port.js';

/**
 * Sources for SLOs that name an OpenSLO DataSource (Prometheus, Thanos Query, Mimir, Cortex):
 * one client per endpoint, shared by every SLO that names it, so several Prometheus servers are
 * read side by side. Keyed by name, URL and headers together: a reload that points a name at
 * another URL gets a new client.
 */
export function dataSourceSources(options: { timeoutMs: number }): (ds: DataSourceRef) => SliSource {
  const cache = new Map<string, SliSource>();
  return (ds) => {
    const key = JSON.stringify([ds.name, ds.url, ds.headers ?? {}]);
    let source = cache.get(key);
    if (!source) {
      const client = new PrometheusClient({ baseUrl: ds.url, timeoutMs: options.timeoutMs, ...(ds.headers ? { headers: ds.headers } : {}) });
      source = { ...prometheusSource(client), name: `prometheus:${ds.name}` };
      cache.set(key, source);
    }
    return source;
  };
}
