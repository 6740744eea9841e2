// Webhook intake on real PostgreSQL, beside pgbench's plain single-row inserts of a comparable
// row (~400 bytes) at the same client concurrency (one pgbench client per load connection),
// measured before and after the webhook load (the mean is the baseline). Child `quench serve`
// processes (built dist/) take signed generic webhooks from a lean load generator on loopback
// (bench/http-load.mjs; BENCH_WEBHOOK_LOADGEN=autocannon for the old one); each 202 means the
// body was committed to the inbox. Three set-ups, one after the other on one database:
//   1. one replica accepting and processing (the worker processes deliveries beside the load):
//      warm-up, then the maximum rate;
//   2. an intake replica (QUENCH_INGEST_WORKER=off): warm-up, the maximum rate (the figure the
//      target compares with pgbench), then half of it for the latency percentiles;
//   3. a processing replica taking the backlog those left, nothing arriving: deliveries per
//      second and CPU per delivery.
// No loss is proven by counting: every 202 names an inbox row that exists. On PGlite (serve
// without DATABASE_URL, one process accepting and processing) the maximum and half runs are
// reported beside single-row inserts from the same number of concurrent callers in one process.
import { spawn, execFile } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { httpLoad, postRequest } from './http-load.mjs';
import { cpuMsOf, cpuPressureUs, postgresCpuMs, runQueueMsOf } from './cpu.mjs';
import postgres from 'postgres';

const DURATION_S = Number(process.env.BENCH_WEBHOOK_SECONDS || 10);
const CONNECTIONS = Number(process.env.BENCH_WEBHOOK_CONNECTIONS || 20);
const WARMUP_S = Number(process.env.BENCH_WEBHOOK_WARMUP_SECONDS ?? 5);
const DRAIN_S = Number(process.env.BENCH_WEBHOOK_DRAIN_SECONDS || 20);
const PGBENCH = process.env.PGBENCH || '/usr/bin/pgbench';
const LOADGEN = process.env.BENCH_WEBHOOK_LOADGEN || 'lean';
const HALF_RUNS = Math.max(1, Number(process.env.BENCH_WEBHOOK_HALF_RUNS || 3));
const PREBUILT_PER_SECOND = Number(process.env.BENCH_WEBHOOK_PREBUILT_PER_SECOND || 8000);
const round1 = (x) => (x === undefined ? undefined : Math.round(x * 10) / 10);
const SECRET = 'bench-secret';
const root = fileURLToPath(new URL('..', import.meta.url));

const freePort = () =>
  new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });

/** A body like a small real event (~400 bytes), unique per request. */
const eventBody = (id) =>
  JSON.stringify({
    id,
    type: 'deploy.failed',
    severity: 'error',
    summary: 'deploy of checkout failed: readiness probe timed out after 120 s',
    labels: { service: 'checkout', env: 'production', region: 'eu-west-1', team: 'payments' },
    annotations: { runbook: 'https://runbooks.example/checkout/deploy-failed', commit: randomBytes(20).toString('hex') },
  });

async function startServe(env) {
  const port = await freePort();
  // BENCH_SERVE_NODE_ARGS: Node options for the serve process (say `--cpu-prof --cpu-prof-dir=DIR` to profile it).
  const nodeArgs = process.env.BENCH_SERVE_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, join(root, 'bin/quench.js'), 'serve'], {
    cwd: root,
    env: { ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) return { child, url };
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`quench serve did not become ready: ${stderr}`);
}

function pgbenchInserts(url, dir) {
  const script = join(dir, 'insert.sql');
  writeFileSync(script, `insert into bench_plain (body) values (repeat('x', 400));\n`);
  return new Promise((resolve, reject) => {
    execFile(
      PGBENCH,
      ['-n', '-c', String(CONNECTIONS), '-j', '2', '-T', String(Math.max(5, Math.round(DURATION_S / 2))), '-f', script, url],
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`pgbench failed: ${stderr || err.message}`));
        const m = /tps = ([\d.]+)/.exec(stdout);
        if (!m) return reject(new Error(`no tps in pgbench output: ${stdout}`));
        resolve(Number(m[1]));
      },
    );
  });
}

/** Read and write system calls a process has made so far (Linux /proc/PID/io), undefined elsewhere. */
function syscallsOf(pid) {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    return Number(/syscr: (\d+)/.exec(io)[1]) + Number(/syscw: (\d+)/.exec(io)[1]);
  } catch {
    return undefined;
  }
}

/** One signed generic webhook: a unique body, its timestamp and its HMAC signature. */
function signedWebhook(id) {
  const body = eventBody(id);
  const ts = String(Math.floor(Date.now() / 1000));
  const signature = createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex');
  return { body, headers: { 'content-type': 'application/json', 'x-quench-timestamp': ts, 'x-quench-signature': `sha256=${signature}` } };
}

/**
 * The load itself, from bench/http-load.mjs (default) or autocannon (BENCH_WEBHOOK_LOADGEN=
 * autocannon, the generator of earlier sessions' figures: it costs 3–4 times the CPU per request,
 * taken from the same two cores).
 */
async function generateLoad(url, seconds, rate, onResponse, onStart) {
  let seq = 0;
  const prefix = randomBytes(4).toString('hex');
  if (LOADGEN === 'autocannon') {
    onStart();
    const result = await autocannon({
      url: `${url}/webhooks/generic/bench`,
      connections: CONNECTIONS,
      duration: seconds,
      ...(rate ? { overallRate: rate } : {}),
      requests: [{ method: 'POST', setupRequest: (req) => ({ ...req, ...signedWebhook(`${prefix}-${++seq}`) }), onResponse }],
    });
    return { latency: result.latency, non2xx: result.non2xx, errors: result.errors };
  }
  const { hostname: host, port } = new URL(url);
  const path = '/webhooks/generic/bench';
  const build = () => {
    const { body, headers } = signedWebhook(`${prefix}-${++seq}`);
    return postRequest(host, path, headers, body);
  };
  // Requests are built and signed before the clock starts (a real sender signs on its own
  // machine): enough for the run at its rate, or for up to PREBUILT_PER_SECOND a second at full
  // speed; past that they are built on the fly. Timestamps stay well inside the replay window.
  const prebuilt = Array.from({ length: Math.ceil((rate ? rate * 1.05 : PREBUILT_PER_SECOND) * seconds) + CONNECTIONS }, build);
  let next = 0;
  const result = await httpLoad({
    host,
    port: Number(port),
    connections: CONNECTIONS,
    seconds,
    rate,
    nextRequest: () => (next < prebuilt.length ? prebuilt[next++] : build()),
    onResponse,
    onStart,
  });
  return { latency: result.latency, non2xx: result.non2xx, errors: result.errors + result.unanswered };
}

/**
 * One load run; `rate` caps the total request rate (undefined: as fast as it goes). Beside
 * throughput it reads the service's CPU time per accepted webhook, which the rest of a shared
 * machine moves far less than throughput, and the load generator's own CPU (it runs in this
 * process, on the same cores).
 */
async function webhookLoad(url, seconds, rate, pid) {
  const acceptedIds = [];
  // Read when the load starts (after the requests are built), so only the run is counted.
  let serveCpuBefore, serveSyscallsBefore, postgresCpuBefore, clientCpuBefore, pressureBefore, runQueueBefore;
  const onStart = () => {
    pressureBefore = cpuPressureUs();
    runQueueBefore = runQueueMsOf(pid);
    serveCpuBefore = cpuMsOf(pid);
    serveSyscallsBefore = syscallsOf(pid);
    postgresCpuBefore = postgresCpuMs();
    clientCpuBefore = process.cpuUsage();
  };
  // Every 202 names its inbox row; collected to check each one is really there.
  const result = await generateLoad(
    url,
    seconds,
    rate,
    (status, body) => {
      if (status === 202) acceptedIds.push(JSON.parse(body).id);
    },
    onStart,
  );
  const serveCpuMs = serveCpuBefore === undefined ? undefined : cpuMsOf(pid) - serveCpuBefore;
  const postgresCpu = postgresCpuBefore === undefined ? undefined : postgresCpuMs() - postgresCpuBefore;
  const serveSyscalls = serveSyscallsBefore === undefined ? undefined : syscallsOf(pid) - serveSyscallsBefore;
  const clientCpu = process.cpuUsage(clientCpuBefore);
  const pressure = pressureBefore === undefined ? undefined : cpuPressureUs() - pressureBefore;
  const runQueue = runQueueBefore === undefined ? undefined : runQueueMsOf(pid) - runQueueBefore;
  return {
    acceptedIds,
    summary: {
      acceptedPerSecond: Math.round(acceptedIds.length / seconds),
      serveCpuUsPerAccepted: serveCpuMs === undefined || acceptedIds.length === 0 ? undefined : Math.round((serveCpuMs * 1000) / acceptedIds.length),
      // Backends that exited during the run are not counted: a floor, for comparing runs.
      postgresCpuUsPerAccepted: postgresCpu === undefined || acceptedIds.length === 0 ? undefined : Math.round((postgresCpu * 1000) / acceptedIds.length),
      serveReadWriteSyscallsPerAccepted:
        serveSyscalls === undefined || acceptedIds.length === 0 ? undefined : Math.round((serveSyscalls / acceptedIds.length) * 100) / 100,
      loadGeneratorCpuPercent: Math.round((100 * (clientCpu.user + clientCpu.system)) / 1000 / (seconds * 1000)),
      loadGeneratorCpuUsPerRequest: acceptedIds.length === 0 ? undefined : Math.round((clientCpu.user + clientCpu.system) / acceptedIds.length),
      // Share of the run some task waited for a CPU, and the serve thread's wait per second.
      cpuPressurePercent: pressure === undefined ? undefined : Math.round(pressure / (seconds * 10_000)),
      serveRunQueueMsPerSecond: runQueue === undefined ? undefined : round1(runQueue / seconds),
      latencyP50Ms: round1(result.latency.p50),
      latencyP99Ms: round1(result.latency.p99),
      responses202: acceptedIds.length,
      non2xx: result.non2xx,
      errors: result.errors,
    },
  };
}

/** Both webhook runs against one serve: the maximum, then half of it; `found(ids)` counts the inbox rows named. */
async function maxThenHalf(ctx, serve, found, { half: withHalf = true } = {}) {
  // A long-running service has compiled its hot paths long ago; a process started a second ago has
  // not (V8's optimising compiler then takes a fifth of the serve process's CPU). The warm-up's
  // 202s are checked like the others.
  ctx.log(`${LOADGEN}: warm-up, ${CONNECTIONS} connections for ${WARMUP_S} s`);
  const warmup = WARMUP_S > 0 ? await webhookLoad(serve.url, WARMUP_S, undefined, serve.child.pid) : undefined;
  ctx.log(`${LOADGEN}: ${CONNECTIONS} connections for ${DURATION_S} s against ${serve.url}`);
  const max = await webhookLoad(serve.url, DURATION_S, undefined, serve.child.pid);
  const processedDuringMax = ctx.processed ? await ctx.processed() : undefined;
  const halfRate = Math.max(1, Math.round(max.summary.acceptedPerSecond / 2));
  if (withHalf) ctx.log(`${LOADGEN}: ${halfRate} requests/s (half the maximum) for ${DURATION_S} s`);
  // Repeated (BENCH_WEBHOOK_HALF_RUNS): on shared cores one run's p99 is mostly what else ran then.
  const halves = [];
  for (let i = 0; withHalf && i < HALF_RUNS; i++) halves.push(await webhookLoad(serve.url, DURATION_S, halfRate, serve.child.pid));
  // The run of median p99 is the figure; every run is kept with its CPU pressure.
  const half = [...halves].sort((a, b) => a.summary.latencyP99Ms - b.summary.latencyP99Ms)[Math.floor(halves.length / 2)];
  const ids = [...(warmup?.acceptedIds ?? []), ...max.acceptedIds, ...halves.flatMap((h) => h.acceptedIds)];
  const acceptedFound = await found(ids);
  return {
    ...(warmup ? { warmup: { seconds: WARMUP_S, ...warmup.summary } } : {}),
    max: { ...max.summary, ...(processedDuringMax === undefined ? {} : { processedByWorkerDuringRun: processedDuringMax }) },
    acceptedIds: ids,
    ...(half ? { half: { rate: halfRate, ...half.summary, runs: halves.map((h) => ({ p99Ms: h.summary.latencyP99Ms, cpuPressurePercent: h.summary.cpuPressurePercent })) } } : {}),
    responses202: ids.length,
    acceptedFound,
    noLoss: acceptedFound === ids.length,
  };
}

/**
 * Deliveries a processing replica completes per second with nothing arriving, and its CPU and
 * the server's per delivery, over `seconds` (or until nothing is left).
 */
async function drainFor(db, pid, seconds, doneCount) {
  const before = { done: await doneCount(), cpu: cpuMsOf(pid), pg: postgresCpuMs(), at: performance.now() };
  const until = before.at + seconds * 1000;
  let left = Infinity;
  while (performance.now() < until && left > 0) {
    await new Promise((r) => setTimeout(r, 200));
    left = (await db`select count(*)::int as n from ingest_inbox where status <> 'done'`)[0].n;
  }
  const processed = (await doneCount()) - before.done;
  const elapsed = (performance.now() - before.at) / 1000;
  const per = (ms) => (ms === undefined || processed === 0 ? undefined : Math.round((ms * 1000) / processed));
  return {
    seconds: Math.round(elapsed * 10) / 10,
    processed,
    processedPerSecond: Math.round(processed / elapsed),
    serveCpuUsPerDelivery: per(before.cpu === undefined ? undefined : cpuMsOf(pid) - before.cpu),
    postgresCpuUsPerDelivery: per(before.pg === undefined ? undefined : postgresCpuMs() - before.pg),
    backlogLeft: left === Infinity ? undefined : left,
  };
}

const stopServe = async (serve) => {
  if (!serve) return;
  serve.child.kill('SIGTERM');
  await new Promise((r) => (serve.child.exitCode !== null ? r() : serve.child.once('exit', r)));
};

/** PGlite baseline: single-row inserts of the same row from CONNECTIONS concurrent callers, one process. */
async function pgliteInserts(dir, seconds) {
  const { PGlite } = await import('@electric-sql/pglite');
  const pg = new PGlite(join(dir, 'pglite-baseline'));
  await pg.waitReady;
  await pg.exec('create table bench_plain (id bigserial primary key, body text not null, at timestamptz not null default now())');
  const until = Date.now() + seconds * 1000;
  let n = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < until) {
        await pg.query(`insert into bench_plain (body) values (repeat('x', 400))`);
        n++;
      }
    }),
  );
  await pg.close();
  return n / seconds;
}

async function pgliteBench(ctx, dir) {
  const baselineSeconds = Math.max(5, Math.round(DURATION_S / 2));
  ctx.log(`PGlite: plain single-row inserts for ${baselineSeconds} s`);
  const plain = await pgliteInserts(dir, baselineSeconds);
  const dataDir = join(dir, 'pglite-serve');
  let serve = await startServe({
    PATH: process.env.PATH,
    QUENCH_DATA_DIR: dataDir,
    QUENCH_PLAYBOOK_DIR: join(dir, 'no-playbooks'),
    QUENCH_SLO_DIR: join(dir, 'no-slos'),
    QUENCH_WEBHOOK_SECRETS: `bench=${SECRET}`,
    QUENCH_WEBHOOK_RATE_LIMIT: '1000000',
    QUENCH_WEBHOOK_RATE_BURST: '1000000',
    LOG_LEVEL: 'warn',
  });
  try {
    // PGlite is one process: it accepts and processes (the rows are counted after it stops).
    const { acceptedIds: ids, ...runs } = await maxThenHalf(ctx, serve, async (accepted) => accepted.length);
    await stopServe(serve);
    serve = undefined;
    // PGlite is one process's files: count the rows after the service let go of them.
    const { PGlite } = await import('@electric-sql/pglite');
    const pg = new PGlite(join(dataDir, 'pgdata'));
    const { rows } = await pg.query('select count(distinct id)::int as n from ingest_inbox where id = any($1::bigint[])', [ids]);
    await pg.close();
    const acceptedFound = rows[0].n;
    return {
      ...runs,
      acceptedFound,
      noLoss: acceptedFound === runs.responses202,
      plainInsertsPerSecond: Math.round(plain),
      ratioToPlainInsert: Number((runs.max.acceptedPerSecond / plain).toFixed(3)),
    };
  } finally {
    await stopServe(serve);
  }
}

export default async function bench(ctx) {
  const name = `quench_bench_${randomBytes(4).toString('hex')}`;
  const admin = postgres(ctx.databaseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(ctx.databaseUrl);
  url.pathname = `/${name}`;
  const dbUrl = url.toString();
  const db = postgres(dbUrl, { max: 1, onnotice: () => {} });
  const dir = mkdtempSync(join(tmpdir(), 'quench-bench-'));
  let serve;
  try {
    // Baseline first, on its own table, with the service not yet running.
    await db.unsafe('create table bench_plain (id bigserial primary key, body text not null, at timestamptz not null default now())');
    ctx.log(`pgbench: plain single-row inserts, ${CONNECTIONS} clients, for ${Math.max(5, Math.round(DURATION_S / 2))} s`);
    const plainBefore = await pgbenchInserts(dbUrl, dir);
    const loadBefore = loadavg()[0];

    const serveEnv = (worker) => ({
      PATH: process.env.PATH,
      DATABASE_URL: dbUrl,
      QUENCH_DATA_DIR: join(dir, 'data'),
      QUENCH_PLAYBOOK_DIR: join(dir, 'no-playbooks'),
      QUENCH_SLO_DIR: join(dir, 'no-slos'),
      QUENCH_WEBHOOK_SECRETS: `bench=${SECRET}`,
      QUENCH_WEBHOOK_RATE_LIMIT: '1000000',
      QUENCH_WEBHOOK_RATE_BURST: '1000000',
      QUENCH_INGEST_WORKER: worker,
      LOG_LEVEL: 'warn',
    });
    const found = async (ids) => (await db`select count(distinct id)::int as n from ingest_inbox where id = any(${ids}::bigint[])`)[0].n;
    const doneCount = async () => (await db`select count(*)::int as n from ingest_inbox where status = 'done'`)[0].n;

    // 1. One process that accepts and processes (a single-replica deployment): the worker
    //    processes deliveries beside the load, paced to rest while webhooks keep arriving.
    ctx.log('one replica, accepting and processing');
    serve = await startServe(serveEnv('on'));
    const doneBefore = await doneCount();
    const both = await maxThenHalf({ ...ctx, processed: async () => (await doneCount()) - doneBefore }, serve, found, { half: false });
    await stopServe(serve);
    serve = undefined;

    // 2. An intake replica (QUENCH_INGEST_WORKER=off, docs/webhooks.md): acceptance alone, the
    //    figure the target speaks of, and the latency at half its maximum.
    ctx.log('intake replica (QUENCH_INGEST_WORKER=off)');
    serve = await startServe(serveEnv('off'));
    const runs = await maxThenHalf(ctx, serve, found);
    await stopServe(serve);
    serve = undefined;

    // 3. The processing side: a replica with the worker on takes the backlog the runs above
    //    left, with nothing arriving, for DRAIN_S seconds (or until it is empty).
    ctx.log(`processing replica: the backlog for up to ${DRAIN_S} s`);
    serve = await startServe(serveEnv('on'));
    const processing = await drainFor(db, serve.child.pid, DRAIN_S, doneCount);
    const loadDuring = loadavg()[0];
    await stopServe(serve);
    serve = undefined;

    const ids = [...both.acceptedIds, ...runs.acceptedIds];
    const acceptedFound = await found(ids);
    const [{ n: inboxRows }] = await db`select count(*)::int as n from ingest_inbox where source = 'generic:bench'`;
    // Row sizes as stored, to show the baseline's row is comparable (the inbox row also carries headers and keys).
    const [{ bytes: inboxRowBytes }] = await db`select round(avg(pg_column_size(i.*)))::int as bytes from ingest_inbox i where source = 'generic:bench'`;
    const [{ bytes: plainRowBytes }] = await db`select round(avg(pg_column_size(b.*)))::int as bytes from bench_plain b`;
    // The audit trail the deliveries' processing wrote is whole (the service flushed it at stop).
    // (No audit_outbox before migration 0015: the bench also runs against older builds for a before/after.)
    const [{ pending }] = await db`select count(*)::int as pending from audit_outbox`.catch(() => [{ pending: null }]);
    const [{ audited }] = await db`select count(*)::int as audited from audit_events`;
    // Measured again after the load, so a change in the machine's load shows as a spread.
    ctx.log('pgbench again, after the webhook load');
    const plainAfter = await pgbenchInserts(dbUrl, dir);
    const plainInsertsPerSecond = (plainBefore + plainAfter) / 2;
    const ratio = (perSecond) => Number((perSecond / plainInsertsPerSecond).toFixed(3));
    const { acceptedIds: _a, ...intake } = runs;
    const { acceptedIds: _b, ...oneReplica } = both;
    const postgresResult = {
      durationSeconds: DURATION_S,
      connections: CONNECTIONS,
      loadGenerator: LOADGEN,
      baseline: `pgbench -n -c ${CONNECTIONS} -j 2: one INSERT of a ~400-byte row per transaction`,
      ...intake,
      oneReplicaAcceptingAndProcessing: { ...oneReplica, ratioToPlainInsert: ratio(oneReplica.max.acceptedPerSecond) },
      processingReplica: processing,
      responses202: ids.length,
      acceptedFound,
      noLoss: acceptedFound === ids.length,
      plainInsertsPerSecond: Math.round(plainInsertsPerSecond),
      plainInsertsBeforeAfter: [Math.round(plainBefore), Math.round(plainAfter)],
      loadAverage1m: { before: Number(loadBefore.toFixed(2)), during: Number(loadDuring.toFixed(2)) },
      ratioToPlainInsert: ratio(intake.max.acceptedPerSecond),
      inboxRows,
      rowBytes: { inbox: inboxRowBytes, baseline: plainRowBytes },
      // Requests whose answer never came (autocannon stops without reading them) may be stored unanswered.
      storedButUnanswered: inboxRows - acceptedFound,
      auditEntries: audited,
      auditUnchainedAtStop: pending,
    };
    const pglite = process.env.BENCH_WEBHOOK_PGLITE === '0' ? undefined : await pgliteBench(ctx, dir);
    return { ...postgresResult, pglite };
  } finally {
    await stopServe(serve);
    await db.end();
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}
