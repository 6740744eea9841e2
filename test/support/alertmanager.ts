import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './quench-process.js';

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
}): Promise<AlertmanagerProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'quench-am-'));
  const port = await freePort();
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
    ...(options.bearerToken
      ? ['        http_config:', '          authorization:', `            credentials: ${JSON.stringify(options.bearerToken)}`]
      : []),
    '',
  ].join('\n');
  writeFileSync(join(dir, 'alertmanager.yml'), config);
  const child: ChildProcess = spawn(
    ALERTMANAGER_BIN,
    [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // No gossip: a lone instance, nothing listening beyond the loopback web port.
      '--cluster.listen-address=',
      '--log.level=debug',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (d) => {
    output += d;
  });
  child.stderr!.on('data', (d) => {
    output += d;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) break;
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (child.exitCode !== null || Date.now() > deadline) {
    await stop();
    throw new Error(`Alertmanager did not become ready on ${url}:\n${output}`);
  }
  return {
    url,
    output: () => output,
    stop,
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
