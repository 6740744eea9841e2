// Webhook acceptance throughput on real PostgreSQL: a child `quench serve` (built dist/) takes
// signed generic webhooks from autocannon on loopback; each 202 means the body was committed to
// the inbox. Beside it, in the same run and on the same PostgreSQL server, pgbench measures the
// plain single-row insert rate of a comparable row, which is the ceiling an insert-per-request
// design can approach. No loss is proven by counting: 202 responses = inbox rows.
import { spawn, execFile } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import postgres from 'postgres';

const DURATION_S = Number(process.env.BENCH_WEBHOOK_SECONDS || 10);
const CONNECTIONS = Number(process.env.BENCH_WEBHOOK_CONNECTIONS || 20);
const PGBENCH = process.env.PGBENCH || '/usr/bin/pgbench';
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
  const child = spawn(process.execPath, [join(root, 'bin/quench.js'), 'serve'], {
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
      ['-n', '-c', String(Math.min(CONNECTIONS, 10)), '-j', '2', '-T', String(Math.max(5, Math.round(DURATION_S / 2))), '-f', script, url],
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`pgbench failed: ${stderr || err.message}`));
        const m = /tps = ([\d.]+)/.exec(stdout);
        if (!m) return reject(new Error(`no tps in pgbench output: ${stdout}`));
        resolve(Number(m[1]));
      },
    );
  });
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
    ctx.log(`pgbench: plain single-row inserts for ${Math.max(5, Math.round(DURATION_S / 2))} s`);
    const plainBefore = await pgbenchInserts(dbUrl, dir);
    const loadBefore = loadavg()[0];

    serve = await startServe({
      PATH: process.env.PATH,
      DATABASE_URL: dbUrl,
      QUENCH_DATA_DIR: join(dir, 'data'),
      QUENCH_PLAYBOOK_DIR: join(dir, 'no-playbooks'),
      QUENCH_SLO_DIR: join(dir, 'no-slos'),
      QUENCH_WEBHOOK_SECRETS: `bench=${SECRET}`,
      QUENCH_WEBHOOK_RATE_LIMIT: '1000000',
      QUENCH_WEBHOOK_RATE_BURST: '1000000',
      LOG_LEVEL: 'warn',
    });
    ctx.log(`autocannon: ${CONNECTIONS} connections for ${DURATION_S} s against ${serve.url}`);
    let seq = 0;
    const acceptedIds = [];
    const prefix = randomBytes(4).toString('hex');
    const result = await autocannon({
      url: `${serve.url}/webhooks/generic/bench`,
      connections: CONNECTIONS,
      duration: DURATION_S,
      requests: [
        {
          method: 'POST',
          setupRequest: (req) => {
            const body = eventBody(`${prefix}-${++seq}`);
            const ts = String(Math.floor(Date.now() / 1000));
            const signature = createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex');
            return {
              ...req,
              body,
              headers: { 'content-type': 'application/json', 'x-quench-timestamp': ts, 'x-quench-signature': `sha256=${signature}` },
            };
          },
          // Every 202 names its inbox row; collected to check each one is really there.
          onResponse: (status, body) => {
            if (status === 202) acceptedIds.push(JSON.parse(body).id);
          },
        },
      ],
    });
    const accepted = acceptedIds.length;
    const [{ n: inboxRows }] = await db`select count(*)::int as n from ingest_inbox where source = 'generic:bench'`;
    const [{ n: acceptedFound }] = await db`select count(distinct id)::int as n from ingest_inbox where id = any(${acceptedIds}::bigint[])`;
    const loadDuring = loadavg()[0];
    serve.child.kill('SIGTERM');
    await new Promise((r) => serve.child.once('exit', r));
    serve = undefined;
    // Measured again after the load, so a change in the machine's load shows as a spread.
    ctx.log('pgbench again, after the webhook load');
    const plainAfter = await pgbenchInserts(dbUrl, dir);
    const plainInsertsPerSecond = (plainBefore + plainAfter) / 2;
    const acceptedPerSecond = accepted / DURATION_S;
    return {
      durationSeconds: DURATION_S,
      connections: CONNECTIONS,
      acceptedPerSecond: Math.round(acceptedPerSecond),
      latencyP50Ms: result.latency.p50,
      latencyP99Ms: result.latency.p99,
      plainInsertsPerSecond: Math.round(plainInsertsPerSecond),
      plainInsertsBeforeAfter: [Math.round(plainBefore), Math.round(plainAfter)],
      loadAverage1m: { before: Number(loadBefore.toFixed(2)), during: Number(loadDuring.toFixed(2)) },
      ratioToPlainInsert: Number((acceptedPerSecond / plainInsertsPerSecond).toFixed(3)),
      responses202: accepted,
      non2xx: result.non2xx,
      errors: result.errors,
      inboxRows,
      acceptedRowsFound: acceptedFound,
      // Requests still in flight when autocannon stopped may be stored without their 202 being read.
      storedButUnanswered: inboxRows - acceptedFound,
      noLoss: acceptedFound === accepted,
    };
  } finally {
    if (serve) {
      serve.child.kill('SIGTERM');
      await new Promise((r) => serve.child.once('exit', r));
    }
    await db.end();
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}
