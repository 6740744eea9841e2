// One SLO evaluation cycle of 1,000 SLOs against a real Prometheus (Debian's `prometheus`),
// against the built dist/. Prometheus scrapes a local target every second whose counters carry
// 50 routes; SLO i reads route i % 50, with the default workbook windows (5m … 3d) and a 30-day
// window, so each SLO is one instant query of 16 tagged sub-expressions.
//
// Measured: wall time of a steady-state cycle (the evaluator as `quench serve` runs it: query,
// budget maths, alert state machine, samples stored in an embedded PGlite), queries per second
// and cost per SLO (wall and Quench-process CPU). Baseline, same run, same Prometheus, same
// concurrency: the very same 1,000 PromQL queries POSTed raw with fetch, bodies read and
// dropped. The ratio says how much Quench adds on top of Prometheus' own query time.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SLOS = Number(process.env.BENCH_SLOS || 1000);
const CONCURRENCY = Number(process.env.BENCH_SLO_CONCURRENCY || 16);
const ROUTES = 50;
const PROMETHEUS = process.env.PROMETHEUS_BIN || '/usr/bin/prometheus';

const dist = (path) => new URL(`../dist/${path}`, import.meta.url).href;

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

async function freePort() {
  const s = createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

/** Counters for ROUTES routes growing at 20 req/s each, 0.05% errors. */
async function startTarget() {
  let last = Date.now();
  const ok = new Array(ROUTES).fill(0);
  const bad = new Array(ROUTES).fill(0);
  const server = createServer((_req, res) => {
    const now = Date.now();
    const n = (20 * (now - last)) / 1000;
    last = now;
    const lines = ['# TYPE http_requests_total counter'];
    for (let r = 0; r < ROUTES; r++) {
      ok[r] += n * 0.9995;
      bad[r] += n * 0.0005;
      lines.push(`http_requests_total{route="r${r}",code="200"} ${ok[r]}`, `http_requests_total{route="r${r}",code="500"} ${bad[r]}`);
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(`${lines.join('\n')}\n`);
  });
  const port = await listen(server);
  return { address: `127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) };
}

async function startPrometheus(target) {
  const dir = mkdtempSync(join(tmpdir(), 'quench-bench-prom-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: target\n    static_configs:\n      - targets: ["${target}"]\n`,
  );
  const child = spawn(
    PROMETHEUS,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let output = '';
  child.stderr.on('data', (d) => {
    output += d;
  });
  const exited = new Promise((r) => child.once('exit', r));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  for (const deadline = Date.now() + 60_000; ; ) {
    if (child.exitCode !== null) throw new Error(`prometheus exited: ${output}`);
    if (
      await fetch(`${url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, stop };
}

function sloFile(n) {
  const docs = [];
  for (let i = 0; i < n; i++) {
    const route = `r${i % ROUTES}`;
    docs.push(`apiVersion: quench/v1
kind: SLO
metadata: { name: bench-${i} }
service: svc-${i % 100}
objective: 99.9
window: 30d
sli:
  events:
    errorQuery: sum(rate(http_requests_total{job="target",route="${route}",code="500"}[{{window}}]))
    totalQuery: sum(rate(http_requests_total{job="target",route="${route}"}[{{window}}]))
`);
  }
  return docs.join('---\n');
}

async function rawBaseline(url, queries, concurrency) {
  let next = 0;
  let bytes = 0;
  const worker = async () => {
    while (next < queries.length) {
      const q = queries[next++];
      const res = await fetch(`${url}/api/v1/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ query: q, time: String(Date.now() / 1000) }),
      });
      bytes += (await res.text()).length;
      if (!res.ok) throw new Error(`baseline query failed: HTTP ${res.status}`);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ms: performance.now() - t0, bytes };
}

const round = (n, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

export default async function sloBench(ctx) {
  if (!existsSync(PROMETHEUS)) throw new Error(`${PROMETHEUS} not found: install the Debian package 'prometheus' (or set PROMETHEUS_BIN)`);
  const { parseYamlSource } = await import(dist('definitions/source.js'));
  const { importSlos } = await import(dist('slo/definitions.js'));
  const { SloEvaluator } = await import(dist('slo/evaluator.js'));
  const { PrometheusClient } = await import(dist('slo/sources/prometheus-client.js'));
  const { prometheusSource } = await import(dist('slo/sources/prometheus.js'));
  const { syntheticSource } = await import(dist('slo/sources/synthetic.js'));
  const { createSloStore } = await import(dist('slo/store.js'));
  const { combinedQuery } = await import(dist('slo/core/promql.js'));
  const { alertWindowLengths } = await import(dist('slo/core/windows.js'));
  const { openDatabase } = await import(dist('db/database.js'));
  const { silentLogger } = await import(dist('telemetry/logger.js'));
  const { systemClock } = await import(dist('core/clock.js'));

  const { slos, problems } = importSlos(parseYamlSource('bench.yaml', sloFile(SLOS)).documents);
  if (problems.length > 0 || slos.length !== SLOS) throw new Error(`bench SLOs did not import: ${JSON.stringify(problems.slice(0, 3))}`);

  const target = await startTarget();
  const prom = await startPrometheus(target.address);
  const db = await openDatabase({ dataDir: 'memory://' });
  try {
    await db.migrate();
    ctx.log(`prometheus at ${prom.url}; waiting for scrapes`);
    const client = new PrometheusClient({ baseUrl: prom.url, timeoutMs: 30_000 });
    for (const deadline = Date.now() + 60_000; ; ) {
      const up = await client.query('count(rate(http_requests_total[5s]) > 0)').catch(() => []);
      if ((up[0]?.value ?? 0) >= ROUTES * 2) break;
      if (Date.now() > deadline) throw new Error('prometheus never scraped the target');
      await new Promise((r) => setTimeout(r, 500));
    }
    const evaluator = new SloEvaluator({
      slos,
      sources: { prometheus: prometheusSource(client), synthetic: syntheticSource(new Date()) },
      clock: systemClock,
      logger: silentLogger,
      store: createSloStore(db),
      concurrency: CONCURRENCY,
      timeoutMs: 60_000,
      intervalMs: 60_000,
    });

    // First cycle also loads alert states and each SLO's last sample time; measured separately.
    const first = await evaluator.evaluateAll();
    if (first.failed > 0)
      throw new Error(`${first.failed} SLO evaluations failed: ${JSON.stringify(evaluator.list().find((s) => s.state === 'error'))}`);

    const cpu0 = process.cpuUsage();
    const steady = await evaluator.evaluateAll();
    const cpu = process.cpuUsage(cpu0);
    if (steady.failed > 0) throw new Error(`${steady.failed} SLO evaluations failed`);
    const sample = evaluator.get('bench-0');

    // Baseline: the same queries (as the evaluator builds them), raw.
    const queries = slos.map((s) => {
      const lengths = alertWindowLengths(s.alerting.windows);
      return combinedQuery(s.sli, s.budgeting, [...lengths, s.window.ms, 60_000]);
    });
    const baseline = await rawBaseline(prom.url, queries, CONCURRENCY);

    return {
      slos: SLOS,
      concurrency: CONCURRENCY,
      subExpressionsPerQuery: (queries[0].match(/label_replace/g) ?? []).length,
      firstCycleMs: round(first.durationMs, 0),
      cycleWallMs: round(steady.durationMs, 0),
      queriesPerSecond: round((SLOS / steady.durationMs) * 1000, 1),
      costPerSloMs: round(steady.durationMs / SLOS, 3),
      quenchCpuPerSloMs: round((cpu.user + cpu.system) / 1000 / SLOS, 3),
      baseline: {
        what: 'the same 1,000 PromQL queries POSTed raw with fetch at the same concurrency, bodies discarded',
        wallMs: round(baseline.ms, 0),
        queriesPerSecond: round((SLOS / baseline.ms) * 1000, 1),
        responseBytes: baseline.bytes,
      },
      ratioToBaseline: round(steady.durationMs / baseline.ms, 2),
      sanity: { budgetRemaining: sample?.errorBudget.remaining, burn1h: sample?.burnRates['1h'] },
    };
  } finally {
    await db.close();
    await prom.stop();
    await target.close();
  }
}
