// Durable-execution throughput and footprint on real PostgreSQL, against the built dist/.
//
// 1. Step transitions per second: RUNS runs of a STEPS-step playbook (`log` actions) are
//    started, then one in-process worker (concurrency 8, the `quench serve` default) runs them
//    to completion. Each step is two transitions (claimed ready → running, then running →
//    succeeded, which also creates the next step), each its own short transaction with audit
//    entries, as in production.
// 2. Beside it, in the same run and on the same server, pgbench measures plain single-row
//    inserts (1 and 8 clients): the ceiling a commit-per-transition design can approach.
// 3. Memory of WAITING runs (half on a human decision, half on a 1h timer): RSS and heap of the
//    engine process after GC, before and after they are parked. Waiting runs live only in
//    PostgreSQL, so the process should not grow with them.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';

const RUNS = Number(process.env.BENCH_ENGINE_RUNS || 300);
const STEPS = 5;
const WAITING = Number(process.env.BENCH_ENGINE_WAITING || 10_000);
const PGBENCH = process.env.PGBENCH || '/usr/bin/pgbench';
const PGBENCH_SECONDS = Number(process.env.BENCH_PGBENCH_SECONDS || 5);

const dist = (path) => new URL(`../dist/${path}`, import.meta.url).href;

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

async function waitFor(db, sql, predicate, what) {
  const deadline = Date.now() + 20 * 60_000;
  for (;;) {
    const rows = await db.rows(sql);
    if (predicate(rows)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export default async function bench(ctx) {
  const { sql } = await import('drizzle-orm');
  const { openDatabase } = await import(dist('db/database.js'));
  const { createAuditTrail } = await import(dist('audit/trail.js'));
  const { loadConfig } = await import(dist('config/load.js'));
  const { systemClock } = await import(dist('core/clock.js'));
  const { createEngine } = await import(dist('engine/engine.js'));
  const { playbookSchema } = await import(dist('playbooks/core/model.js'));
  const { playbookHash } = await import(dist('playbooks/loader.js'));
  const { silentLogger } = await import(dist('telemetry/logger.js'));

  const name = `quench_bench_engine_${randomBytes(4).toString('hex')}`;
  const admin = postgres(ctx.databaseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(ctx.databaseUrl);
  url.pathname = `/${name}`;
  const dir = mkdtempSync(join(tmpdir(), 'quench-bench-engine-'));
  let db;
  try {
    db = await openDatabase({ url: url.toString(), poolMax: 10 });
    await db.migrate();
    await db.rows(sql`create table bench_plain (id bigserial primary key, body text not null)`);
    const engine = createEngine({
      db,
      audit: createAuditTrail(db, systemClock),
      clock: systemClock,
      logger: silentLogger,
      config: loadConfig({}),
      options: { concurrency: 8, pollMs: 200 },
    });
    const version = (steps) => {
      const definition = playbookSchema.parse({
        apiVersion: 'quench/v1',
        kind: 'Playbook',
        metadata: { name: 'bench', owner: 'bench' },
        steps,
      });
      return { definition, hash: playbookHash(definition) };
    };

    ctx.log(`pgbench: single-row inserts, 1 and 8 clients, ${PGBENCH_SECONDS} s each`);
    const insertsPerSecond1 = await pgbenchInserts(url.toString(), 1, dir);
    const insertsPerSecond8 = await pgbenchInserts(url.toString(), 8, dir);

    ctx.log(`engine: ${RUNS} runs × ${STEPS} steps with one worker (concurrency 8)`);
    const steps = Array.from({ length: STEPS }, (_, i) => ({
      id: `s${i}`,
      kind: 'action',
      action: 'log',
      params: { message: `step ${i}`, level: 'debug' },
    }));
    const flow = version(steps);
    for (let i = 0; i < RUNS; i++) await engine.startRun({ playbook: flow });
    const worker = engine.createWorker('bench');
    const started = performance.now();
    await worker.start();
    await waitFor(db, sql`select count(*)::int as n from engine_runs where state = 'succeeded'`, (r) => r[0].n === RUNS, 'runs to finish');
    const seconds = (performance.now() - started) / 1000;
    await worker.stop();
    const stepsDone = RUNS * STEPS;
    const transitionsPerSecond = Math.round((stepsDone * 2) / seconds);

    ctx.log(`memory: ${WAITING} runs parked on humans and timers`);
    const before = memory();
    const human = version([{ id: 'ask', kind: 'human', type: 'approve', prompt: 'ok?' }]);
    const timer = version([{ id: 'sleep', kind: 'wait', duration: '1h' }]);
    const parkStart = performance.now();
    const batch = 16;
    for (let i = 0; i < WAITING; i += batch) {
      await Promise.all(
        Array.from({ length: Math.min(batch, WAITING - i) }, (_, j) => engine.startRun({ playbook: (i + j) % 2 ? human : timer })),
      );
    }
    const parker = engine.createWorker('park');
    await parker.start();
    await waitFor(db, sql`select count(*)::int as n from engine_runs where state = 'waiting'`, (r) => r[0].n === WAITING, 'runs to wait');
    const parkSeconds = (performance.now() - parkStart) / 1000;
    const after = memory();
    await parker.stop();

    return {
      database: 'postgresql',
      runs: RUNS,
      stepsPerRun: STEPS,
      seconds: Math.round(seconds * 100) / 100,
      stepsPerSecond: Math.round(stepsDone / seconds),
      transitionsPerSecond,
      baseline: { insertsPerSecond1Client: Math.round(insertsPerSecond1), insertsPerSecond8Clients: Math.round(insertsPerSecond8) },
      ratio: {
        transitionsVsInserts1Client: Math.round((transitionsPerSecond / insertsPerSecond1) * 1000) / 1000,
        transitionsVsInserts8Clients: Math.round((transitionsPerSecond / insertsPerSecond8) * 1000) / 1000,
      },
      waiting: {
        runs: WAITING,
        parkSeconds: Math.round(parkSeconds * 10) / 10,
        memoryBefore: before,
        memoryAfter: after,
        heapGrowthMb: Math.round((after.heapUsedMb - before.heapUsedMb) * 10) / 10,
        gcExposed: typeof globalThis.gc === 'function',
      },
      note: 'transitions = claim (ready→running) + result (running→succeeded, next step created); each is one transaction with its audit entries',
    };
  } finally {
    await db?.close();
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}
