// Durable-execution throughput, latency and footprint, against the built dist/.
//
// 1. Steps per second on PostgreSQL: RUNS runs of a STEPS-step playbook (`log` actions) are
//    started, then Quench workers (concurrency CONCURRENCY each) run them to completion: one
//    worker in this process, then one worker in each of two processes on the same database.
//    Each step is a claim, an attempt start and a result (with its audit entries), as in
//    production.
// 2. The anchor, in the same run on the same server, in its own database: graphile-worker
//    0.17.3 (bench/engine-graphile.mjs) running JOBS trivial jobs with the same concurrency, in
//    this process and in two processes. Both sides are timed from the moment the workers are
//    told to start (work queued beforehand) to the moment the database shows all of it done.
//    Ratio = Quench steps/s ÷ graphile-worker jobs/s.
// 3. Trigger → first action: the maximum rate of one-step runs (started by concurrent callers
//    while a worker runs them), then one-step runs started open-loop at half that rate; latency
//    from the `startRun` call to the action being called, p50/p99.
// 4. pgbench single-row inserts (1 and 8 clients): the ceiling of a commit-per-change design.
// 5. Memory of WAITING runs (half on a human decision, half on a 1h timer): RSS and heap after GC.
// 6. The same throughput and latency on PGlite (in memory, one process), for the record.
import { execFile, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { z } from 'zod';
import { enqueueJobs, graphileLogger, graphileTasks, graphileUtils, jobsLeft } from './engine-graphile.mjs';
import { cpuPressureUs, postgresCpuMs } from './cpu.mjs';
import { benchEngine } from './engine-quench.mjs';

// 2,000 runs × 5 steps: about as long as the anchor's 20,000 jobs (10–20 s), so both sides carry a
// like share of a fresh process's warm-up (JIT compiling the hot path). With 600 runs the quench
// side ran 7 s against the anchor's 11 s, and its CPU per step was a third higher (docs/benchmarks.md).
const RUNS = Number(process.env.BENCH_ENGINE_RUNS || 2000);
const RUNS_PGLITE = Number(process.env.BENCH_ENGINE_PGLITE_RUNS || 300);
const STEPS = 5;
const CONCURRENCY = Number(process.env.BENCH_ENGINE_CONCURRENCY || 8);
const JOBS = Number(process.env.BENCH_ENGINE_ANCHOR_JOBS || 20_000);
const LATENCY_SECONDS = Number(process.env.BENCH_ENGINE_LATENCY_SECONDS || 5);
const WAITING = Number(process.env.BENCH_ENGINE_WAITING || 10_000);
const PGBENCH = process.env.PGBENCH || '/usr/bin/pgbench';
const PGBENCH_SECONDS = Number(process.env.BENCH_PGBENCH_SECONDS || 5);

const dist = (path) => new URL(`../dist/${path}`, import.meta.url).href;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round = (x, digits = 0) => Math.round(x * 10 ** digits) / 10 ** digits;
const load = () => loadavg().map((l) => round(l, 2));

function pgbenchInserts(url, clients, dir) {
  const script = join(dir, 'insert.sql');
  writeFileSync(script, `insert into bench_plain (body) values (repeat('x', 200));\n`);
  return new Promise((resolve, reject) => {
    execFile(
      PGBENCH,
      ['-n', '-c', String(clients), '-j', String(Math.min(clients, 2)), '-T', String(PGBENCH_SECONDS), '-f', script, url],
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`pgbench failed: ${stderr || err.message}`));
        const m = /tps = ([\d.]+)/.exec(stdout);
        if (!m) return reject(new Error(`no tps in pgbench output: ${stdout}`));
        resolve(Number(m[1]));
      },
    );
  });
}

const mb = (bytes) => Math.round((bytes / 1024 / 1024) * 10) / 10;
function memory() {
  globalThis.gc?.();
  const m = process.memoryUsage();
  return { rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed) };
}

/** Polls `done()` every 10 ms; returns the seconds since `since`. */
async function until(done, since, what) {
  const deadline = Date.now() + 20 * 60_000;
  for (;;) {
    if (await done()) return (performance.now() - since) / 1000;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Child worker processes (bench/engine-child.mjs), set up and waiting for `go`. */
async function children(kind, url, n) {
  const procs = [];
  for (let i = 0; i < n; i++) {
    const child = fork(new URL('engine-child.mjs', import.meta.url), [kind, url, String(CONCURRENCY)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    procs.push(
      new Promise((resolve, reject) => {
        child.once('message', (m) => (m === 'ready' ? resolve(child) : reject(new Error(`unexpected message ${m}`))));
        child.once('exit', (code) => reject(new Error(`${kind} worker process exited with ${code} before it was ready`)));
      }),
    );
  }
  const ready = await Promise.all(procs);
  return {
    go: () => ready.forEach((c) => c.send('go')),
    stop: () =>
      Promise.all(
        ready.map(
          (c) =>
            new Promise((resolve) => {
              c.once('exit', resolve);
              c.send('stop');
            }),
        ),
      ),
  };
}

/**
 * CPU per unit of work during `fn` (one process doing the work): this process's and the local
 * PostgreSQL server's (its backends that exited meanwhile are not counted: a floor). Less moved
 * by a busy machine than rates are, and it says which side a design spends on.
 */
async function withCpu(units, fn) {
  const pg0 = postgresCpuMs();
  const own0 = process.cpuUsage();
  const result = await fn();
  const own = process.cpuUsage(own0);
  const pg = pg0 === undefined ? undefined : postgresCpuMs() - pg0;
  const n = units(result);
  return {
    ...result,
    cpuUsPerUnit: {
      process: Math.round((own.user + own.system) / n),
      ...(pg === undefined ? {} : { postgres: Math.round((pg * 1000) / n) }),
    },
  };
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function quenchSide(ctx, db, url) {
  const { sql } = await import('drizzle-orm');
  const { playbookSchema } = await import(dist('playbooks/core/model.js'));
  const { playbookHash } = await import(dist('playbooks/loader.js'));

  const marks = new Map();
  const { engine, stopChaining } = await benchEngine(db, CONCURRENCY);
  engine.actions.register({
    name: 'bench.mark',
    description: 'records when it was called (trigger → first action latency)',
    changesState: false,
    params: z.strictObject({}),
    async run(_params, actionCtx) {
      if (!marks.has(actionCtx.correlationId)) marks.set(actionCtx.correlationId, performance.now());
      return {};
    },
  });
  const version = (steps) => {
    const definition = playbookSchema.parse({ apiVersion: 'quench/v1', kind: 'Playbook', metadata: { name: 'bench', owner: 'bench' }, steps });
    return { definition, hash: playbookHash(definition) };
  };
  const flow = version(
    Array.from({ length: STEPS }, (_, i) => ({ id: `s${i}`, kind: 'action', action: 'log', params: { message: `step ${i}`, level: 'debug' } })),
  );
  const startRunsOf = async (playbook, n) => {
    for (let i = 0; i < n; i += 16)
      await Promise.all(Array.from({ length: Math.min(16, n - i) }, () => engine.startRun({ playbook })));
  };
  const startRuns = (n) => startRunsOf(flow, n);
  const succeeded = async () => (await db.rows(sql`select count(*)::int as n from engine_runs where state = 'succeeded'`))[0].n;

  /** Steps per second: `runs` queued, then `start()` the workers and wait for all runs to succeed. */
  const throughput = async (runs, start) => {
    const before = await succeeded();
    await startRuns(runs);
    const t0 = performance.now();
    const stop = await start();
    const seconds = await until(async () => (await succeeded()) - before >= runs, t0, 'runs to finish');
    await stop();
    return { runs, steps: runs * STEPS, seconds: round(seconds, 2), stepsPerSecond: round((runs * STEPS) / seconds) };
  };

  const inProcess = async () => {
    const worker = engine.createWorker(`bench-${process.pid}`);
    await worker.start();
    return () => worker.stop();
  };

  /**
   * The maximum rate of the latency workload itself: one-step runs started by 16 concurrent
   * callers while a worker runs them, timed from the first start to the last run succeeded.
   */
  const oneStepRunRate = async (runs) => {
    const mark = version([{ id: 'mark', kind: 'action', action: 'bench.mark', params: {} }]);
    const before = await succeeded();
    const worker = engine.createWorker(`bench-rate-${process.pid}`);
    await worker.start();
    const t0 = performance.now();
    await startRunsOf(mark, runs);
    const seconds = await until(async () => (await succeeded()) - before >= runs, t0, 'one-step runs to finish');
    await worker.stop();
    return { runs, seconds: round(seconds, 2), runsPerSecond: round(runs / seconds, 1) };
  };

  /** Trigger → first action at `rate` one-step runs per second, open loop. */
  const latency = async (rate) => {
    const mark = version([{ id: 'mark', kind: 'action', action: 'bench.mark', params: {} }]);
    const worker = engine.createWorker(`bench-lat-${process.pid}`);
    await worker.start();
    const n = Math.max(20, Math.round(rate * LATENCY_SECONDS));
    const triggered = new Map();
    const pending = [];
    const pressure0 = cpuPressureUs();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const at = t0 + (i * 1000) / rate;
      const wait = at - performance.now();
      if (wait > 1) await sleep(wait);
      const correlationId = `lat-${i}-${randomBytes(3).toString('hex')}`;
      triggered.set(correlationId, performance.now());
      pending.push(engine.startRun({ playbook: mark, correlationId }));
    }
    await Promise.all(pending);
    await until(async () => [...triggered.keys()].every((k) => marks.has(k)), t0, 'marked actions');
    // Share of the run some task waited for a CPU: on shared cores the tail is mostly this.
    const pressure = pressure0 === undefined ? undefined : Math.round((cpuPressureUs() - pressure0) / ((performance.now() - t0) * 10));
    await worker.stop();
    const ms = [...triggered].map(([k, t]) => marks.get(k) - t).sort((a, b) => a - b);
    return {
      ratePerSecond: round(rate, 1),
      runs: n,
      p50Ms: round(percentile(ms, 50), 1),
      p99Ms: round(percentile(ms, 99), 1),
      maxMs: round(ms.at(-1), 1),
      ...(pressure === undefined ? {} : { cpuPressurePercent: pressure }),
    };
  };

  return {
    engine,
    stop: stopChaining,
    throughput,
    inProcess,
    oneStepRunRate,
    latency,
    twoProcesses: async () => {
      if (!url) throw new Error('two processes need PostgreSQL');
      const procs = await children('quench', url, 2);
      procs.go();
      return () => procs.stop();
    },
    version,
  };
}

export default async function bench(ctx) {
  const { sql } = await import('drizzle-orm');
  const { openDatabase } = await import(dist('db/database.js'));

  const suffix = randomBytes(4).toString('hex');
  const name = `quench_bench_engine_${suffix}`;
  const anchorName = `quench_bench_graphile_${suffix}`;
  const admin = postgres(ctx.databaseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.unsafe(`create database ${anchorName}`);
  const at = (db) => {
    const u = new URL(ctx.databaseUrl);
    u.pathname = `/${db}`;
    return u.toString();
  };
  const url = at(name);
  const anchorUrl = at(anchorName);
  const dir = mkdtempSync(join(tmpdir(), 'quench-bench-engine-'));
  const loadAtStart = load();
  let db;
  let pglite;
  let anchorSql;
  let utils;
  try {
    db = await openDatabase({ url, poolMax: 10 });
    await db.migrate();
    await db.rows(sql`create table bench_plain (id bigserial primary key, body text not null)`);
    const q = await quenchSide(ctx, db, url);

    ctx.log(`graphile-worker 0.17.3: ${JOBS} trivial jobs, concurrency ${CONCURRENCY}, one process`);
    utils = await graphileUtils(anchorUrl);
    anchorSql = postgres(anchorUrl, { max: 1, onnotice: () => {} });
    const { run } = await import('graphile-worker');
    const anchor = async (start) => {
      await enqueueJobs(utils, JOBS);
      const t0 = performance.now();
      const stop = await start();
      const seconds = await until(async () => (await jobsLeft(anchorSql)) === 0, t0, 'graphile-worker jobs');
      await stop();
      return { jobs: JOBS, seconds: round(seconds, 2), jobsPerSecond: round(JOBS / seconds) };
    };
    const anchor1 = await withCpu((r) => r.jobs, () => anchor(async () => {
      const runner = await run({
        connectionString: anchorUrl,
        concurrency: CONCURRENCY,
        noHandleSignals: true,
        logger: graphileLogger(),
        pollInterval: 1000,
        taskList: graphileTasks(),
      });
      return () => runner.stop();
    }));
    ctx.log(`graphile-worker: ${anchor1.jobsPerSecond} jobs/s; two processes`);
    const gwProcs = await children('graphile', anchorUrl, 2);
    const anchor2 = await anchor(async () => {
      gwProcs.go();
      return () => gwProcs.stop();
    });
    ctx.log(`graphile-worker two processes: ${anchor2.jobsPerSecond} jobs/s`);

    ctx.log(`quench: ${RUNS} runs × ${STEPS} steps, one process (concurrency ${CONCURRENCY})`);
    const quench1 = await withCpu((r) => r.steps, () => q.throughput(RUNS, q.inProcess));
    ctx.log(`quench one process: ${quench1.stepsPerSecond} steps/s; two processes`);
    const quench2 = await q.throughput(RUNS, q.twoProcesses);
    ctx.log(`quench two processes: ${quench2.stepsPerSecond} steps/s`);

    ctx.log('one-step runs: maximum rate (started by 16 callers while a worker runs them)');
    const oneStep = await q.oneStepRunRate(RUNS);
    ctx.log(`one-step runs: ${oneStep.runsPerSecond} runs/s; trigger → first action at half that rate`);
    const latency = { maximum: oneStep, ...(await q.latency(oneStep.runsPerSecond / 2)) };

    ctx.log(`pgbench: single-row inserts, 1 and 8 clients, ${PGBENCH_SECONDS} s each`);
    const insertsPerSecond1 = await pgbenchInserts(url, 1, dir);
    const insertsPerSecond8 = await pgbenchInserts(url, 8, dir);

    ctx.log(`memory: ${WAITING} runs parked on humans and timers`);
    const before = memory();
    const human = q.version([{ id: 'ask', kind: 'human', type: 'approve', prompt: 'ok?' }]);
    const timer = q.version([{ id: 'sleep', kind: 'wait', duration: '1h' }]);
    const parkStart = performance.now();
    for (let i = 0; i < WAITING; i += 16) {
      await Promise.all(
        Array.from({ length: Math.min(16, WAITING - i) }, (_, j) => q.engine.startRun({ playbook: (i + j) % 2 ? human : timer })),
      );
    }
    const parker = q.engine.createWorker('park');
    await parker.start();
    await until(
      async () => (await db.rows(sql`select count(*)::int as n from engine_runs where state = 'waiting'`))[0].n === WAITING,
      parkStart,
      'runs to wait',
    );
    const parkSeconds = (performance.now() - parkStart) / 1000;
    const after = memory();
    await parker.stop();

    ctx.log(`PGlite: ${RUNS_PGLITE} runs × ${STEPS} steps, one process`);
    pglite = await openDatabase({ dataDir: 'memory://' });
    await pglite.migrate();
    const p = await quenchSide(ctx, pglite, undefined);
    const pgliteSteps = await p.throughput(RUNS_PGLITE, p.inProcess);
    const pgliteOneStep = await p.oneStepRunRate(RUNS_PGLITE);
    const pgliteLatency = { maximum: pgliteOneStep, ...(await p.latency(pgliteOneStep.runsPerSecond / 2)) };
    await p.stop();
    await q.stop();

    const ratio = (a, b) => round(a / b, 3);
    return {
      database: 'postgresql',
      concurrency: CONCURRENCY,
      loadAverage: { atStart: loadAtStart, atEnd: load() },
      steps: { oneProcess: quench1, twoProcesses: quench2, stepsPerRun: STEPS, action: 'log' },
      anchor: { name: 'graphile-worker 0.17.3', oneProcess: anchor1, twoProcesses: anchor2 },
      ratio: {
        stepsVsGraphileJobsOneProcess: ratio(quench1.stepsPerSecond, anchor1.jobsPerSecond),
        stepsVsGraphileJobsTwoProcesses: ratio(quench2.stepsPerSecond, anchor2.jobsPerSecond),
        transitionsVsInserts1Client: ratio(quench1.stepsPerSecond * 2, insertsPerSecond1),
        // CPU a step costs against what a graphile-worker job costs (one process each; > 1: dearer).
        cpuPerStepVsPerJob: {
          process: ratio(quench1.cpuUsPerUnit.process, anchor1.cpuUsPerUnit.process),
          ...(quench1.cpuUsPerUnit.postgres && anchor1.cpuUsPerUnit.postgres
            ? { postgres: ratio(quench1.cpuUsPerUnit.postgres, anchor1.cpuUsPerUnit.postgres) }
            : {}),
        },
      },
      triggerToFirstAction: latency,
      baseline: { insertsPerSecond1Client: round(insertsPerSecond1), insertsPerSecond8Clients: round(insertsPerSecond8) },
      waiting: {
        runs: WAITING,
        parkSeconds: round(parkSeconds, 1),
        memoryBefore: before,
        memoryAfter: after,
        heapGrowthMb: round(after.heapUsedMb - before.heapUsedMb, 1),
        gcExposed: typeof globalThis.gc === 'function',
      },
      pglite: { steps: pgliteSteps, triggerToFirstAction: pgliteLatency },
      note: 'steps/s from worker start to the last run succeeded (runs queued beforehand); graphile-worker timed the same way on its own database',
    };
  } finally {
    await pglite?.close();
    await db?.close();
    await utils?.release();
    await anchorSql?.end();
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.unsafe(`drop database if exists ${anchorName} with (force)`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}
