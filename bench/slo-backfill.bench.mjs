// The SLO cycle on realistic data: 30 days of 60-second scrapes of ROUTES routes, backfilled
// with `promtool tsdb create-blocks-from openmetrics` into a private Prometheus, so that 30-day
// windows really read 30 days of samples (bench/slo.bench.mjs reads a few minutes).
//
// Measured, at an evaluation time just after the data ends (an injected clock):
// - occurrences: a cycle of BENCH_SLOS SLOs (30-day window, the 30-day catalog: one instant
//   query of 16 tagged sub-expressions each), wall time, Quench CPU and Prometheus CPU (from
//   /proc/<pid>/stat), beside the same queries POSTed raw (baseline);
// - time slices (1-minute slices over 30 days: subqueries of 43,200 steps): BENCH_SLICE_SLOS
//   SLOs, cost per SLO, and what a cycle of BENCH_SLOS such SLOs would take at that rate.
// Each twice, side by side in the same run: QUENCH_SLO_LONG_WINDOWS=raw (every window read from
// Prometheus) and =stored (windows of a day or more summed from slo_samples rows on an in-process
// PGlite, seeded with 30 days of hourly rows of the generated counts, as a running service holds
// them after down-sampling; short windows and the row's own read stay raw).
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SLOS = Number(process.env.BENCH_SLOS || 1000);
const SLICE_SLOS = Number(process.env.BENCH_SLICE_SLOS || 10);
const CONCURRENCY = Number(process.env.BENCH_SLO_CONCURRENCY || 16);
const ROUTES = Number(process.env.BENCH_ROUTES || 20);
// promtool 2.42 writes one block per 2 hours of data: 30 days are 360 blocks (minutes of work).
const DAYS = Number(process.env.BENCH_DAYS || 30);
const PROMETHEUS = process.env.PROMETHEUS_BIN || '/usr/bin/prometheus';
const PROMTOOL = process.env.PROMTOOL_BIN || '/usr/bin/promtool';
const CLK_TCK = 100;

const dist = (path) => new URL(`../dist/${path}`, import.meta.url).href;
const round = (n, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * 60 s samples for ROUTES routes × {200, 500}: 20 req/s per route, 0.05% errors, one OpenMetrics
 * file per day: promtool reads its whole input once per 2-hour block, so one 30-day file costs
 * 360 passes over all of it, and day files 12 passes over 1/30 each.
 */
async function writeDay(file, startMs, endMs, originMs) {
  const out = createWriteStream(file);
  const write = (text) => (out.write(text) ? undefined : new Promise((r) => out.once('drain', r)));
  await write('# TYPE http_requests counter\n');
  for (let r = 0; r < ROUTES; r++) {
    for (const [code, share] of [
      ['200', 0.9995],
      ['500', 0.0005],
    ]) {
      let chunk = '';
      for (let t = startMs; t < endMs; t += 60_000) {
        const i = (t - originMs) / 60_000;
        chunk += `http_requests_total{route="r${r}",code="${code}"} ${i * 60 * 20 * share} ${t / 1000}\n`;
      }
      await write(chunk);
    }
  }
  await write('# EOF\n');
  await new Promise((r) => out.end(r));
}

async function backfill(dir, data, endMs) {
  const originMs = endMs - DAYS * 86_400_000;
  for (let d = 0; d < DAYS; d++) {
    const file = join(dir, `day-${d}.om`);
    const from = originMs + d * 86_400_000;
    await writeDay(file, from, d === DAYS - 1 ? endMs + 1 : from + 86_400_000, originMs);
    execFileSync(PROMTOOL, ['tsdb', 'create-blocks-from', 'openmetrics', file, data], { stdio: 'ignore' });
    rmSync(file);
  }
}

async function startPrometheus(dataDir, dir) {
  const port = await freePort();
  writeFileSync(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 60s\n');
  const child = spawn(
    PROMETHEUS,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${dataDir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=100y',
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
  };
  for (const deadline = Date.now() + 120_000; ; ) {
    if (child.exitCode !== null) throw new Error(`prometheus exited: ${output}`);
    if (await fetch(`${url}/-/ready`).then((r) => r.ok, () => false)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  /** Prometheus' own CPU seconds so far (user + system), from /proc. */
  const cpuSeconds = () => {
    const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  };
  return { url, stop, cpuSeconds };
}

function sloFile(n, budgeting, prefix) {
  const docs = [];
  for (let i = 0; i < n; i++) {
    docs.push(`apiVersion: quench/v1
kind: SLO
metadata: { name: ${prefix}-${i} }
service: svc-${i % 100}
objective: 99.9
window: 30d
budgeting: ${budgeting}
sli:
  scrapeInterval: 1m
  events:
    errorQuery: sum(rate(http_requests_total{route="r${i % ROUTES}",code="500"}[{{window}}]))
    totalQuery: sum(rate(http_requests_total{route="r${i % ROUTES}"}[{{window}}]))
`);
  }
  return docs.join('---\n');
}

async function rawBaseline(url, queries, atMs) {
  let next = 0;
  const worker = async () => {
    while (next < queries.length) {
      const q = queries[next++];
      const res = await fetch(`${url}/api/v1/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ query: q, time: String(atMs / 1000) }),
      });
      await res.text();
      if (!res.ok) throw new Error(`baseline query failed: HTTP ${res.status}`);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return performance.now() - t0;
}

export default async function sloBackfillBench(ctx) {
  for (const bin of [PROMETHEUS, PROMTOOL]) if (!existsSync(bin)) throw new Error(`${bin} not found: install the Debian package 'prometheus'`);
  const { parseYamlSource } = await import(dist('definitions/source.js'));
  const { importSlos } = await import(dist('slo/definitions.js'));
  const { SloEvaluator } = await import(dist('slo/evaluator.js'));
  const { PrometheusClient } = await import(dist('slo/sources/prometheus-client.js'));
  const { prometheusSource } = await import(dist('slo/sources/prometheus.js'));
  const { syntheticSource } = await import(dist('slo/sources/synthetic.js'));
  const { combinedQuery } = await import(dist('slo/core/promql.js'));
  const { alertWindowLengths } = await import(dist('slo/core/windows.js'));
  const { silentLogger } = await import(dist('telemetry/logger.js'));
  const { openDatabase } = await import(dist('db/database.js'));
  const { createSloStore } = await import(dist('slo/store.js'));
  const { sloSamples } = await import(dist('slo/schema.js'));

  // Backfilled data must stay clear of Prometheus' head (the last ~2 h): end 3 h before now.
  const endMs = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3 * 3_600_000;
  const dir = mkdtempSync(join(tmpdir(), 'quench-bench-backfill-'));
  const data = join(dir, 'data');
  let prom;
  try {
    let t0 = performance.now();
    await backfill(dir, data, endMs);
    const backfillMs = performance.now() - t0;
    ctx.log(`backfilled ${ROUTES * 2} series × ${DAYS} days of 60 s samples in ${round(backfillMs / 1000, 1)} s`);
    prom = await startPrometheus(data, dir);
    const client = new PrometheusClient({ baseUrl: prom.url, timeoutMs: 600_000, retries: 0 });
    let nowMs = endMs;
    const clock = { now: () => new Date(nowMs) };
    // Stored mode's rows: hourly, 31 days up to an hour before the warm-up cycle (what a service
    // running for a month holds once rows older than 8 days are merged hourly; the newer
    // minute rows sum to the same). 20 req/s, 0.05% errors; 60 good one-minute slices an hour.
    const db = await openDatabase({ dataDir: 'memory://' });
    await db.migrate();
    const store = createSloStore(db);
    const seed = async (slos, sliced) => {
      const t0 = performance.now();
      const lastMs = endMs - 61 * 60_000;
      for (const slo of slos) {
        const rows = [];
        for (let at = lastMs - 31 * 86_400_000 + 3_600_000; at <= lastMs; at += 3_600_000) {
          rows.push({
            slo: slo.name,
            at: new Date(at),
            windowStart: new Date(at - 3_600_000),
            resolutionS: 3600,
            errors: sliced ? 0 : 20 * 3600 * 0.0005,
            total: sliced ? 60 : 20 * 3600,
            budgetRemaining: null,
            burnRate: null,
          });
        }
        for (let i = 0; i < rows.length; i += 500) await db.orm.insert(sloSamples).values(rows.slice(i, i + 500));
      }
      return performance.now() - t0;
    };
    const run = async (slos, longWindows) => {
      const evaluator = new SloEvaluator({
        slos,
        sources: { prometheus: prometheusSource(client), synthetic: syntheticSource(new Date()) },
        clock,
        logger: silentLogger,
        concurrency: CONCURRENCY,
        timeoutMs: 600_000,
        intervalMs: 60_000,
        longWindows,
        ...(longWindows === 'stored' ? { store } : {}),
      });
      // Warm-up a minute earlier (first reads of the blocks; stored: loads each SLO's rows), then
      // the measured cycle a minute later, as the schedule runs them.
      nowMs = endMs - 60_000;
      await evaluator.evaluateAll();
      nowMs = endMs;
      const cpu0 = process.cpuUsage();
      const prom0 = prom.cpuSeconds();
      const cycle = await evaluator.evaluateAll();
      const cpu = process.cpuUsage(cpu0);
      if (cycle.failed > 0) throw new Error(`${cycle.failed} evaluations failed: ${evaluator.list().find((s) => s.state === 'error')?.error}`);
      return { cycle, quenchCpuMs: (cpu.user + cpu.system) / 1000, prometheusCpuS: prom.cpuSeconds() - prom0, sample: evaluator.list()[0] };
    };
    const figures = (r) => ({
      attainment: r.sample?.attainment,
      budgetRemaining: r.sample?.errorBudget.remaining,
      burn1h: r.sample?.burnRates['1h'],
      burn1d: r.sample?.burnRates['1d'],
      burn3d: r.sample?.burnRates['3d'],
    });
    const side = (raw, stored, n) => ({
      raw: { cycleWallMs: round(raw.cycle.durationMs, 0), quenchCpuMs: round(raw.quenchCpuMs, 0), prometheusCpuSeconds: round(raw.prometheusCpuS, 2) },
      stored: { cycleWallMs: round(stored.cycle.durationMs, 0), quenchCpuMs: round(stored.quenchCpuMs, 0), prometheusCpuSeconds: round(stored.prometheusCpuS, 2) },
      perSloMs: {
        rawWall: round(raw.cycle.durationMs / n, 1),
        storedWall: round(stored.cycle.durationMs / n, 1),
        rawPrometheusCpu: round((raw.prometheusCpuS * 1000) / n, 1),
        storedPrometheusCpu: round((stored.prometheusCpuS * 1000) / n, 1),
        rawQuenchCpu: round(raw.quenchCpuMs / n, 2),
        storedQuenchCpu: round(stored.quenchCpuMs / n, 2),
      },
      storedToRaw: { wall: round(stored.cycle.durationMs / raw.cycle.durationMs, 3), prometheusCpu: round(stored.prometheusCpuS / Math.max(raw.prometheusCpuS, 0.01), 3) },
      agreement: { raw: figures(raw), stored: figures(stored) },
    });

    const occ = importSlos(parseYamlSource('occ.yaml', sloFile(SLOS, 'occurrences', 'occ')).documents).slos;
    const seedOccMs = await seed(occ, false);
    ctx.log(`seeded ${occ.length} × 744 hourly rows in ${round(seedOccMs / 1000, 1)} s`);
    const o = await run(occ, 'raw');
    const os = await run(occ, 'stored');
    const queries = occ.map((s) => combinedQuery(s.sli, s.budgeting, [...alertWindowLengths(s.alerting.windows), s.window.ms, 60_000]));
    const prom1 = prom.cpuSeconds();
    const baselineMs = await rawBaseline(prom.url, queries, endMs);
    const baselineCpu = prom.cpuSeconds() - prom1;
    ctx.log(`occurrences: ${SLOS} SLOs in ${round(o.cycle.durationMs / 1000, 1)} s raw, ${round(os.cycle.durationMs / 1000, 1)} s stored`);

    const ts = importSlos(
      parseYamlSource('ts.yaml', sloFile(SLICE_SLOS, '{ method: timeslices, sliceLength: 1m, sliceTarget: 99 }', 'ts')).documents,
    ).slos;
    await seed(ts, true);
    const t = await run(ts, 'raw');
    const tStored = await run(ts, 'stored');
    const perSliceSlo = t.cycle.durationMs / SLICE_SLOS;
    const perSliceSloStored = tStored.cycle.durationMs / SLICE_SLOS;
    await db.close();

    return {
      data: { routes: ROUTES, series: ROUTES * 2, days: DAYS, scrapeSeconds: 60, backfillSeconds: round(backfillMs / 1000, 1) },
      occurrences: {
        slos: SLOS,
        concurrency: CONCURRENCY,
        cycleWallMs: round(o.cycle.durationMs, 0),
        costPerSloMs: round(o.cycle.durationMs / SLOS, 2),
        quenchCpuPerSloMs: round(o.quenchCpuMs / SLOS, 3),
        prometheusCpuSeconds: round(o.prometheusCpuS, 1),
        baseline: { what: 'the same queries POSTed raw, same concurrency', wallMs: round(baselineMs, 0), prometheusCpuSeconds: round(baselineCpu, 1) },
        ratioToBaseline: round(o.cycle.durationMs / baselineMs, 2),
        sanity: { attainment: o.sample?.attainment, burn1h: o.sample?.burnRates['1h'] },
        longWindows: side(o, os, SLOS),
      },
      timeslices1m: {
        slos: SLICE_SLOS,
        cycleWallMs: round(t.cycle.durationMs, 0),
        costPerSloMs: round(perSliceSlo, 0),
        prometheusCpuPerSloSeconds: round(t.prometheusCpuS / SLICE_SLOS, 2),
        projectedCycleForAllSlosSeconds: round((perSliceSlo * SLOS) / 1000, 0),
        sanity: { attainment: t.sample?.attainment, burn1h: t.sample?.burnRates['1h'] },
        longWindows: { ...side(t, tStored, SLICE_SLOS), projectedStoredCycleForAllSlosSeconds: round((perSliceSloStored * SLOS) / 1000, 0) },
      },
    };
  } finally {
    await prom?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
