import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startPeerDaemon } from './peer-daemon.js';

/**
 * A real Alertmanager (Debian's prometheus-alertmanager) on 127.0.0.1 with a temporary
 * configuration whose only receiver is a webhook. Timings are short so a test sees the first
 * notification, a repeat and the resolution within seconds.
 */
export const ALERTMANAGER_BIN = process.env.ALERTMANAGER_BIN || '/usr/bin/prometheus-alertmanager';
export const alertmanagerAvailable = existsSync(ALERTMANAGER_BIN);

export interface AlertmanagerProcess {
  readonly url: string;
  postAlerts(
    alerts: Array<{ labels: Record<string, string>; annotations?: Record<string, string>; startsAt?: string; endsAt?: string }>,
  ): Promise<void>;
  output(): string;
  stop(): Promise<void>;
}

export async function startAlertmanager(options: {
  webhookUrl: string;
  bearerToken?: string;
  groupWait?: string;
  groupInterval?: string;
  repeatInterval?: string;
  /** The webhook's `max_alerts`: alerts beyond it are cut and counted in `truncatedAlerts`. */
  maxAlerts?: number;
}): Promise<AlertmanagerProcess> {
  const config = [
    'route:',
    '  receiver: quench',
    "  group_by: ['alertname']",
    `  group_wait: ${options.groupWait ?? '1s'}`,
    `  group_interval: ${options.groupInterval ?? '1s'}`,
    `  repeat_interval: ${options.repeatInterval ?? '1h'}`,
    'receivers:',
    '  - name: quench',
    '    webhook_configs:',
    `      - url: ${JSON.stringify(options.webhookUrl)}`,
    '        send_resolved: true',
    ...(options.maxAlerts !== undefined ? [`        max_alerts: ${options.maxAlerts}`] : []),
    ...(options.bearerToken
      ? ['        http_config:', '          authorization:', `            credentials: ${JSON.stringify(options.bearerToken)}`]
      : []),
    '',
  ].join('\n');
  const daemon = await startPeerDaemon({
    name: 'Alertmanager',
    bin: ALERTMANAGER_BIN,
    files: { 'alertmanager.yml': config },
    args: (dir, port) => [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // No gossip: a lone instance, nothing listening beyond the loopback web port.
      '--cluster.listen-address=',
      '--log.level=debug',
    ],
    readyTimeoutMs: 30_000,
  });
  const { url } = daemon;
  return {
    url,
    output: daemon.output,
    stop: daemon.stop,
    async postAlerts(alerts) {
      const res = await fetch(`${url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alerts),
      });
      if (!res.ok) throw new Error(`Alertmanager refused the alerts: ${res.status} ${await res.text()}`);
    },
  };
}
