import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config/load.js';
import type { SloStatus } from '../../src/slo/core/status.js';
import { type RunningService, startService } from '../../src/service.js';
import { silentLogger } from '../../src/telemetry/logger.js';

const demo = `apiVersion: quench/v1
kind: SLO
metadata: { name: demo }
service: shop
objective: 99.9
sli:
  synthetic:
    requestsPerSecond: 10
    script: [{ at: "0", errorRatio: 0.0005 }]
---
apiVersion: quench/v1
kind: SLO
metadata: { name: needs-prometheus }
service: shop
objective: 99
sli: { raw: { errorRatioQuery: 'job:errors:ratio_rate{{window}}' } }
`;

describe('SLO capability in the service', () => {
  let dir: string;
  let service: RunningService;
  let base: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'quench-slo-'));
    writeFileSync(join(dir, 'slo.yaml'), demo);
    // The first cycle runs at start; the cron is set far away so the test sees exactly that one.
    const config = loadConfig({
      QUENCH_DATA_DIR: 'memory://',
      QUENCH_SLO_DIR: dir,
      QUENCH_PLAYBOOK_DIR: dir,
      QUENCH_SLO_EVAL_CRON: '0 0 1 1 *',
    });
    service = await startService(config, { logger: silentLogger, port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${service.port}`;
  });
  afterAll(async () => {
    await service?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves GET /v1/slos and /v1/slos/:name, fills ports.slo and exports the metrics', async () => {
    let list: SloStatus[] = [];
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      list = ((await (await fetch(`${base}/v1/slos`)).json()) as { slos: SloStatus[] }).slos;
      if (list.find((s) => s.name === 'demo')?.evaluatedAt) break;
    }
    expect(list.map((s) => [s.name, s.state])).toEqual([
      ['demo', 'ok'],
      ['needs-prometheus', 'not_evaluated'],
    ]);
    const one = await fetch(`${base}/v1/slos/demo`);
    expect(one.status).toBe(200);
    const status = (await one.json()) as SloStatus;
    expect(status.burnRates['1h']).toBeCloseTo(0.5, 9);
    expect(status.errorBudget.remaining).toBeCloseTo(0.5, 9);
    expect(status.alerts.page.status).toBe('inactive');
    expect(list[1]!.error).toContain('PROMETHEUS_URL');

    const missing = await fetch(`${base}/v1/slos/nope`);
    expect(missing.status).toBe(404);
    expect(JSON.stringify(await missing.json())).toContain('known: demo, needs-prometheus');

    expect(service.ctx.ports.slo.running).toBe(true);
    expect(service.ctx.ports.slo.forService('shop').map((s) => s.name)).toEqual(['demo', 'needs-prometheus']);

    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/quench_slo_burn_rate\{slo="demo",service="shop",window="1h"\} 0\.5/);
    expect(metrics).toMatch(/quench_slo_objective_ratio\{slo="demo",service="shop"\} 0\.999/);
    expect(metrics).toContain('quench_slo_alert_firing{slo="demo",service="shop",severity="page"} 0');
    expect(metrics).toContain('quench_slo_evaluation_seconds_bucket');
  });

  it('quench slo status --json --local evaluates the files itself', async () => {
    let out = '';
    const code = await runCli(['slo', 'status', '--json', '--local'], {
      stdout: (t) => (out += t),
      stderr: () => {},
      env: { QUENCH_SLO_DIR: dir },
    });
    expect(code).toBe(0);
    const body = JSON.parse(out) as { source: string; slos: SloStatus[] };
    expect(body.source).toBe('local');
    expect(body.slos.map((s) => [s.name, s.state])).toEqual([
      ['demo', 'ok'],
      ['needs-prometheus', 'not_evaluated'],
    ]);
    expect(body.slos[0]!.attainment).toBeCloseTo(0.9995, 9);
  });

  it('quench slo status (table) asks the running service', async () => {
    let out = '';
    let err = '';
    const code = await runCli(['slo', 'status'], {
      stdout: (t) => (out += t),
      stderr: (t) => (err += t),
      env: { QUENCH_SLO_DIR: dir, PORT: String(service.port) },
    });
    expect(code).toBe(0);
    expect(err).toBe('');
    expect(out.split('\n')[0]).toMatch(
      /^SLO\s+SERVICE\s+OBJECTIVE\s+WINDOW\s+ATTAINMENT\s+BUDGET LEFT\s+BURN RATES\s+EXHAUSTED IN\s+PAGE\s+TICKET$/,
    );
    expect(out).toMatch(/demo\s+shop\s+99\.90%\s+30d\s+99\.950%\s+50\.0%\s+5m:0\.50/);
    expect(out).toMatch(/needs-prometheus .* no data source/);
  });
});
