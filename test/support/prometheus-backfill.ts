import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PeerDaemon, startPeerDaemon } from './peer-daemon.js';
import { PROMETHEUS_BIN } from './prometheus.js';
import type { Series } from './slo-model.js';

/**
 * A real Prometheus serving series the test generated: written as OpenMetrics, turned into
 * blocks by `promtool tsdb create-blocks-from openmetrics`, and served from that storage with a
 * retention long enough for any past time. Backfilled data must end a few hours before now
 * (Prometheus' head owns the last ~2 h), so tests pick past times and an injected clock.
 */
export const PROMTOOL_BIN = process.env.PROMTOOL_BIN || '/usr/bin/promtool';
export const backfillAvailable = existsSync(PROMETHEUS_BIN) && existsSync(PROMTOOL_BIN);

/** OpenMetrics text for counter series of one metric family (`name` without `_total`). */
export function openMetrics(family: string, series: readonly Series[]): string {
  const lines = [`# TYPE ${family} counter`];
  for (const s of series) {
    const labels = Object.entries(s.labels)
      .map(([k, v]) => `${k}="${v}"`)
      .join(',');
    for (let i = 0; i < s.t.length; i++) lines.push(`${family}_total{${labels}} ${s.v[i]} ${s.t[i]! / 1000}`);
  }
  lines.push('# EOF', '');
  return lines.join('\n');
}

export async function startBackfilledPrometheus(text: string): Promise<PeerDaemon> {
  const work = mkdtempSync(join(tmpdir(), 'quench-backfill-'));
  const data = join(work, 'data');
  try {
    writeFileSync(join(work, 'series.om'), text);
    execFileSync(PROMTOOL_BIN, ['tsdb', 'create-blocks-from', 'openmetrics', join(work, 'series.om'), data], { stdio: 'pipe' });
    const daemon = await startPeerDaemon({
      name: 'Prometheus',
      bin: PROMETHEUS_BIN,
      files: { 'prometheus.yml': 'global:\n  scrape_interval: 15s\n' },
      args: (dir, port) => [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${data}`,
        `--web.listen-address=127.0.0.1:${port}`,
        // Backfilled blocks lie in the past: a short retention would delete them at start.
        '--storage.tsdb.retention.time=100y',
        '--log.level=warn',
      ],
    });
    return {
      ...daemon,
      stop: async () => {
        await daemon.stop();
        rmSync(work, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    throw err;
  }
}
