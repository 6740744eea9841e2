import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type PeerDaemon, startPeerDaemon } from '../support/peer-daemon.js';
import { PROMETHEUS_BIN } from '../support/prometheus.js';

/**
 * Metrics for Sloth's and Pyrra's example SLOs, served to a real Prometheus. Counters grow at fixed
 * rates per second, all from one start time, so every ratio of two of them is the same at any
 * instant and on any Prometheus scraping them: two Prometheus servers agree to the last digit.
 * Gauges are constant. Series carry their own `job` (scraped with honor_labels), as in the files.
 */
export interface Series {
  name: string;
  labels: Record<string, string>;
  /** Counters: increase per second; gauges: the value. */
  value: number;
  gauge?: boolean;
}

const http = (job: string, ok: number, bad: number): Series[] => [
  { name: 'http_request_duration_seconds_count', labels: { job, code: '200' }, value: ok },
  { name: 'http_request_duration_seconds_count', labels: { job, code: '500' }, value: bad },
];

/** The error ratio each example SLO should read from `exampleSeries`. */
export const expectedErrorRatio: Record<string, number> = {
  'myservice-requests-availability': 0.02,
  'myapp-http-availability': 0.02,
  'home-wifi-good-wifi-client-satisfaction': 0.5, // 2 of 4 clients below 0.75
  'home-wifi-risk-wifi-client-satisfaction': 0.25, // 1 of 4 below 0.5
  'home-wifi-wifi-client-satisfaction': 1 - (0.9 + 0.8 + 0.6 + 0.4) / 4,
  'k8s-apiserver-requests-availability': 0.01,
  'k8s-apiserver-requests-latency': 0.03,
  'caddy-response-latency': 0.1,
  'prometheus-blackbox-probe-success': 0.25,
  'pyrra-filesystem-errors': 0.05,
  'prometheus-api-query': 2.5 / 52.5,
  'coredns-response-errors': 0.001,
  'apiserver-read-cluster-latency': 0.04,
};

export const exampleSeries: Series[] = [
  ...http('myservice', 98, 2),
  ...http('myapp', 49, 1),
  ...[0.9, 0.8, 0.6, 0.4].map((v, i) => ({ name: 'unifipoller_client_satisfaction_ratio', labels: { name: `client-${i}` }, value: v, gauge: true })),
  { name: 'apiserver_request_total', labels: { code: '200' }, value: 99 },
  { name: 'apiserver_request_total', labels: { code: '500' }, value: 1 },
  { name: 'apiserver_request_duration_seconds_count', labels: { verb: 'GET' }, value: 100 },
  { name: 'apiserver_request_duration_seconds_bucket', labels: { verb: 'GET', le: '0.4' }, value: 97 },
  { name: 'apiserver_request_duration_seconds_bucket', labels: { verb: 'GET', le: '+Inf' }, value: 100 },
  { name: 'caddy_http_response_duration_seconds_bucket', labels: { job: 'caddy', handler: 'subroute', code: '200', le: '0.05' }, value: 45 },
  { name: 'caddy_http_response_duration_seconds_bucket', labels: { job: 'caddy', handler: 'subroute', code: '200', le: '+Inf' }, value: 50 },
  { name: 'caddy_http_response_duration_seconds_count', labels: { job: 'caddy', handler: 'subroute', code: '200' }, value: 50 },
  ...[1, 1, 1, 0].map((v, i) => ({ name: 'probe_success', labels: { target: `t${i}` }, value: v, gauge: true })),
  { name: 'pyrra_filesystem_reconciles_total', labels: {}, value: 10 },
  { name: 'pyrra_filesystem_reconciles_errors_total', labels: {}, value: 0.5 },
  { name: 'prometheus_http_requests_total', labels: { handler: '/api/v1/query', code: '200' }, value: 30 },
  { name: 'prometheus_http_requests_total', labels: { handler: '/api/v1/query', code: '500' }, value: 1.5 },
  { name: 'prometheus_http_requests_total', labels: { handler: '/api/v1/labels', code: '200' }, value: 20 },
  { name: 'prometheus_http_requests_total', labels: { handler: '/api/v1/labels', code: '503' }, value: 1 },
  { name: 'coredns_dns_responses_total', labels: { job: 'kube-dns', rcode: 'NOERROR' }, value: 99.9 },
  { name: 'coredns_dns_responses_total', labels: { job: 'kube-dns', rcode: 'SERVFAIL' }, value: 0.1 },
  // Pyrra's kubernetes example: le="5.0" as written there.
  {
    name: 'apiserver_request_sli_duration_seconds_bucket',
    labels: { component: 'apiserver', scope: 'cluster', verb: 'LIST', le: '5.0' },
    value: 48,
  },
  { name: 'apiserver_request_sli_duration_seconds_count', labels: { component: 'apiserver', scope: 'cluster', verb: 'LIST' }, value: 50 },
];

export interface MetricsTarget {
  readonly address: string;
  close(): Promise<void>;
}

export async function startMetricsTarget(series: readonly Series[]): Promise<MetricsTarget> {
  const start = Date.now();
  const server: Server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    const elapsed = (Date.now() - start) / 1000;
    const lines = series.map((s) => {
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}="${v}"`)
        .join(',');
      return `${s.name}{${labels}} ${s.gauge ? s.value : s.value * elapsed}`;
    });
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(`${lines.join('\n')}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * A Prometheus scraping the target every second (its series' own `job` kept), evaluating `rules`.
 * `evaluationInterval` is also the default step of subqueries without one (Sloth's home-wifi
 * `[{{.window}}:]`): at 1s a 30-day subquery has 2.6 million steps, at 1m (a usual setting) 43,200.
 */
export function startScrapingPrometheus(target: string, rules?: string, evaluationInterval = '1s'): Promise<PeerDaemon> {
  const config = [
    'global:',
    '  scrape_interval: 1s',
    `  evaluation_interval: ${evaluationInterval}`,
    'scrape_configs:',
    '  - job_name: examples',
    '    honor_labels: true',
    '    static_configs:',
    `      - targets: [${JSON.stringify(target)}]`,
    ...(rules ? ['rule_files:', '  - rules.yml'] : []),
    '',
  ].join('\n');
  return startPeerDaemon({
    name: 'Prometheus',
    bin: PROMETHEUS_BIN,
    files: { 'prometheus.yml': config, ...(rules ? { 'rules.yml': rules } : {}) },
    args: (dir, port) => [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1d',
      '--log.level=warn',
    ],
  });
}

export interface PromSeries {
  labels: Record<string, string>;
  value: number;
}

/** Every series an instant query returns, `__name__` included in the labels. */
export async function instant(url: string, query: string): Promise<PromSeries[]> {
  const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await res.json()) as { status: string; error?: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  if (body.status !== 'success') throw new Error(`query ${query} failed: ${body.error}`);
  return body.data.result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
}
