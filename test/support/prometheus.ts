import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type PeerDaemon, startPeerDaemon } from './peer-daemon.js';

/**
 * A real Prometheus (Debian's `prometheus` package) on 127.0.0.1 with a temporary config and
 * TSDB, scraping the given targets every second; and a tiny target whose request counters grow
 * at a steady rate with an error ratio the test sets.
 */
export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN || '/usr/bin/prometheus';
export const prometheusAvailable = existsSync(PROMETHEUS_BIN);

export type PrometheusProcess = PeerDaemon;

export async function startPrometheus(options: { targets: string[]; scrapeInterval?: string; rules?: string }): Promise<PrometheusProcess> {
  const interval = options.scrapeInterval ?? '1s';
  // Prometheus reads rule_files relative to its config file's folder.
  const config = [
    'global:',
    `  scrape_interval: ${interval}`,
    `  evaluation_interval: ${interval}`,
    'scrape_configs:',
    '  - job_name: target',
    '    static_configs:',
    `      - targets: [${options.targets.map((t) => JSON.stringify(t)).join(', ')}]`,
    ...(options.rules ? ['rule_files:', '  - rules.yml'] : []),
    '',
  ].join('\n');
  return startPeerDaemon({
    name: 'Prometheus',
    bin: PROMETHEUS_BIN,
    files: { 'prometheus.yml': config, ...(options.rules ? { 'rules.yml': options.rules } : {}) },
    args: (dir, port) => [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1d',
      '--log.level=warn',
    ],
  });
}

export interface TrafficTarget {
  /** host:port for the scrape config. */
  readonly address: string;
  /** The error ratio of the requests counted from now on. */
  errorRatio: number;
  close(): Promise<void>;
}

/**
 * Counters `http_requests_total{code="200"|"500"}` that grow by `requestsPerSecond` × elapsed
 * time at each scrape, split by the current error ratio. Both counters move in the same scrape,
 * so Prometheus' rate(errors)/rate(total) over a window is exactly the ratio produced in it.
 */
export async function startTrafficTarget(requestsPerSecond = 100): Promise<TrafficTarget> {
  let ok = 0;
  let errors = 0;
  let last = Date.now();
  const target = {
    errorRatio: 0,
    address: '',
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    const now = Date.now();
    const n = (requestsPerSecond * (now - last)) / 1000;
    last = now;
    errors += n * target.errorRatio;
    ok += n * (1 - target.errorRatio);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(
      ['# TYPE http_requests_total counter', `http_requests_total{code="200"} ${ok}`, `http_requests_total{code="500"} ${errors}`, ''].join(
        '\n',
      ),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  target.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  target.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return target;
}
