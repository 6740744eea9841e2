import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { type Database, openDatabase } from '../../src/db/database.js';
import type { Engine } from '../../src/engine/engine.js';
import { POSTGRES_BIN, type PrivatePostgres, startPrivatePostgres } from '../support/private-postgres.js';
import { childEnv, runCli, type ServeProcess, startServe } from '../support/quench-process.js';
import { waitFor } from '../support/wait-for.js';
import { playbook, testEngine } from './engine-harness.js';
import { startTarget, type Target } from './engine-target.js';

/**
 * The engine's chaos test (issue 10): 200 runs of five shapes — sequential actions, parallel
 * branches, waits resolved by signals, human steps decided mid-way, and a failure that
 * compensates — executed by three `quench serve` processes while one of them is SIGKILLed
 * every few seconds (and replaced) and PostgreSQL restarts twice. On the test's own cluster.
 *
 * What must hold at the end: every run in its expected final state; every side effect applied
 * by the counting target exactly once, and every step's requests under one idempotency key;
 * no attempt left `running`; `quench audit verify` passes; no process ended that the test did
 * not kill, and none logged an uncaught error.
 */
const RUNS_PER_SHAPE = 40; // × 5 shapes = 200 runs
const WORKERS = 3;
const LEASE_MS = 2_000;

type Shape = 'sequence' | 'parallel' | 'signal' | 'human' | 'saga';
const shapes: Shape[] = ['sequence', 'parallel', 'signal', 'human', 'saga'];

/** Per shape: the final run state, the steps whose side effect lands once, and steps refused by the target. */
const expected: Record<Shape, { state: string; applied: string[]; refused: string[] }> = {
  sequence: { state: 'succeeded', applied: ['s1', 's2', 's3'], refused: [] },
  parallel: { state: 'succeeded', applied: ['left', 'right', 'after'], refused: [] },
  signal: { state: 'succeeded', applied: ['before', 'after'], refused: [] },
  human: { state: 'succeeded', applied: ['before', 'after'], refused: [] },
  saga: { state: 'compensated', applied: ['reserve', 'reserve-undo'], refused: ['charge'] },
};

function playbooks(url: string) {
  const inputs = { inputs: { n: { type: 'integer' as const, required: true } } };
  const call = (shape: Shape, id: string, path = id) => ({
    id,
    kind: 'action' as const,
    action: 'http.request',
    params: { url: `${url}/${shape}/\${{ inputs.n }}/${path}`, method: 'POST' },
    retry: { maxAttempts: 5, initialDelay: '100ms', maxDelay: '1s' },
  });
  // A short pause holds a lease, so kills and restarts land on steps in flight.
  const pause = (id: string) => ({ id, kind: 'action' as const, action: 'wait', params: { duration: '300ms' } });
  return {
    sequence: playbook('chaos-sequence', [call('sequence', 's1'), pause('p1'), call('sequence', 's2'), call('sequence', 's3')], inputs),
    parallel: playbook(
      'chaos-parallel',
      [
        {
          id: 'fan',
          kind: 'parallel',
          branches: [
            { name: 'l', steps: [pause('pl'), call('parallel', 'left')] },
            { name: 'r', steps: [call('parallel', 'right'), pause('pr')] },
          ],
        },
        call('parallel', 'after'),
      ],
      inputs,
    ),
    signal: playbook(
      'chaos-signal',
      [
        call('signal', 'before'),
        { id: 'resolved', kind: 'wait', until: { event: 'alert.resolved', onTimeout: 'fail' }, timeout: '60s' },
        call('signal', 'after'),
      ],
      inputs,
    ),
    human: playbook(
      'chaos-human',
      [call('human', 'before'), { id: 'approve', kind: 'human', type: 'approve', prompt: 'Go on?' }, pause('ph'), call('human', 'after')],
      inputs,
    ),
    saga: playbook(
      'chaos-saga',
      [
        {
          ...call('saga', 'reserve'),
          compensate: { action: 'http.request', params: { url: `${url}/saga/\${{ inputs.n }}/reserve-undo`, method: 'POST' } },
        },
        pause('ps'),
        { ...call('saga', 'charge'), retry: { maxAttempts: 2, initialDelay: '100ms', maxDelay: '200ms' } },
      ],
      inputs,
    ),
  };
}

/**
 * The test's own database operations (starting runs, deciding, signalling) run together, but
 * never across a PostgreSQL restart: an operation cut by the restart may have committed
 * without its answer, and retrying it would start a second run.
 */
function restartLock() {
  let active = 0;
  let idle: (() => void) | undefined;
  let restarting: Promise<void> | undefined;
  const shared = async <T>(fn: () => Promise<T>): Promise<T> => {
    while (restarting) await restarting;
    active++;
    try {
      return await fn();
    } finally {
      active--;
      if (active === 0) idle?.();
    }
  };
  const exclusive = async (fn: () => Promise<void>): Promise<void> => {
    while (restarting) await restarting;
    let done!: () => void;
    restarting = new Promise<void>((r) => (done = r));
    try {
      if (active > 0) await new Promise<void>((r) => (idle = r));
      idle = undefined;
      await fn();
    } finally {
      restarting = undefined;
      done();
    }
  };
  return { shared, exclusive };
}

describe.skipIf(!POSTGRES_BIN)('engine chaos: SIGKILLed workers and PostgreSQL restarts (private cluster)', () => {
  let pg: PrivatePostgres;
  let url: string;
  let target: Target;
  let db: Database;
  let engine: Engine;
  let env: NodeJS.ProcessEnv;
  const workers: ServeProcess[] = [];
  const killedByTest = new Set<ServeProcess>();
  const unexpectedExits: string[] = [];
  const allWorkers: ServeProcess[] = [];

  const spawnWorker = async () => {
    for (;;) {
      try {
        const w = await startServe(env);
        allWorkers.push(w);
        void w.exited.then((code) => {
          if (!killedByTest.has(w)) unexpectedExits.push(`worker on :${w.port} exited with ${code}:\n${w.output().slice(-3000)}`);
        });
        workers.push(w);
        return w;
      } catch (err) {
        // PostgreSQL may be restarting: start-up needs it (migrations check). Try again.
        if (!String(err).includes('did not become healthy')) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  };

  beforeAll(async () => {
    pg = await startPrivatePostgres();
    url = await pg.createDatabase('quench_chaos');
    target = await startTarget();
    env = childEnv({
      DATABASE_URL: url,
      QUENCH_HTTP_ALLOWLIST: target.host,
      QUENCH_PLAYBOOK_DIR: mkdtempSync(join(tmpdir(), 'quench-playbooks-')),
      QUENCH_ENGINE_LEASE_MS: String(LEASE_MS),
      QUENCH_ENGINE_POLL_MS: '200',
      DATABASE_POOL_MAX: '6',
      LOG_LEVEL: 'warn',
    });
    // The first worker applies the migrations; the test's own engine starts runs and decides.
    await spawnWorker();
    db = await openDatabase({ url, poolMax: 4 });
    engine = testEngine(db, systemClock, { env: { QUENCH_HTTP_ALLOWLIST: target.host } });
    for (let i = 1; i < WORKERS; i++) await spawnWorker();
  }, 180_000);

  afterAll(async () => {
    for (const w of allWorkers) {
      killedByTest.add(w);
      w.kill('SIGKILL');
    }
    await Promise.all(allWorkers.map((w) => w.exited));
    await db?.close().catch(() => {});
    await target?.close();
    await pg?.destroy();
  });

  it('every run ends as expected, every side effect once under one key, the audit chain intact', async () => {
    const pbs = playbooks(target.url);
    // The charge of every saga run fails for good: its undo must run.
    for (let n = 0; n < RUNS_PER_SHAPE; n++) target.script(`/saga/${n}/charge`, [503]);
    const lock = restartLock();
    /** Retries an operation the test makes while PostgreSQL may be restarting. */
    const retrying = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
      for (let i = 0; ; i++) {
        try {
          return await lock.shared(fn);
        } catch (err) {
          if (i > 100) throw new Error(`${what}: ${(err as Error).message}`, { cause: err });
          await new Promise((r) => setTimeout(r, 300));
        }
      }
    };

    const runs: Array<{ shape: Shape; n: number; runId: string }> = [];
    const began = Date.now();
    let stopChaos = false;

    // Chaos: every 1–2 s one worker is SIGKILLed and a new one started; PostgreSQL restarts twice.
    // (Every 2–4 s was enough while 200 runs took two minutes; they now finish in ~20 s.)
    let kills = 0;
    const chaos = (async () => {
      while (!stopChaos) {
        await new Promise((r) => setTimeout(r, 1_000 + Math.random() * 1_000));
        if (stopChaos) break;
        const victim = workers.splice(Math.floor(Math.random() * workers.length), 1)[0]!;
        killedByTest.add(victim);
        victim.kill('SIGKILL');
        await victim.exited;
        kills++;
        await spawnWorker();
      }
    })();
    let restarts = 0;
    const restarting: Array<Promise<void>> = [];
    const restartPostgres = () =>
      restarting.push(
        lock.exclusive(async () => {
          await pg.restart('fast');
          restarts++;
        }),
      );

    // Runs start over ~20 s, so the kills and restarts meet every stage of every shape. The
    // starts are paced by the kills too (a kill per quarter of the starts), so however fast or
    // loaded the machine, every quarter of the runs meets a kill.
    const starter = (async () => {
      for (let n = 0; n < RUNS_PER_SHAPE; n++) {
        while (kills < Math.floor((4 * n) / RUNS_PER_SHAPE)) await new Promise((r) => setTimeout(r, 200));
        const started = await Promise.all(
          shapes.map(async (shape) => {
            const { runId } = await retrying(`start ${shape} ${n}`, () => engine.startRun({ playbook: pbs[shape], inputs: { n } }));
            return { shape, n, runId };
          }),
        );
        runs.push(...started);
        if (n === Math.floor(RUNS_PER_SHAPE / 3) || n === Math.floor((2 * RUNS_PER_SHAPE) / 3)) restartPostgres();
        await new Promise((r) => setTimeout(r, 500));
      }
    })();

    // Mid-way decisions and signals: approve each human step once it waits; signal each
    // signal run once its first call has landed (possibly before its wait step is reached).
    const decided = new Set<string>();
    const signalled = new Set<string>();
    const operator = (async () => {
      while (decided.size < RUNS_PER_SHAPE || signalled.size < RUNS_PER_SHAPE) {
        await new Promise((r) => setTimeout(r, 300));
        const waiting = await lock.shared(() => engine.listHumanSteps({ status: 'waiting' })).catch(() => []);
        for (const step of waiting as Array<{ id: string }>) {
          if (decided.has(step.id)) continue;
          await retrying(`approve ${step.id}`, async () => {
            try {
              await engine.decide(step.id, { outcome: 'approve' }, { type: 'user', id: 'alice' });
            } catch (err) {
              // A retry after a decision that committed is refused as already decided: that is done.
              if ((err as { code?: string }).code !== 'conflict') throw err;
            }
          });
          decided.add(step.id);
        }
        for (const r of runs.filter((x) => x.shape === 'signal' && !signalled.has(x.runId))) {
          if (!target.applied.some((a) => a.path === `/signal/${r.n}/before`)) continue;
          await retrying(`signal ${r.runId}`, () => engine.signal({ runId: r.runId }, { type: 'alert.resolved' }));
          signalled.add(r.runId);
        }
      }
    })();

    // Progress every 15 s, for whoever reads a failure: started runs, side effects, run states.
    const progress = setInterval(() => {
      void db
        .rows<{ state: string; n: number }>(sql`select state, count(*)::int as n from engine_runs group by 1 order by 1`)
        .then((rows) => {
          const states = rows.map((r) => `${r.state} ${r.n}`).join(', ');
          console.log(`chaos t=${Math.round((Date.now() - began) / 1000)}s: ${runs.length} started, ${target.applied.length} applied; ${states}`);
        })
        .catch(() => {});
    }, 15_000);
    await starter;
    await operator;
    // One query per poll (getRun per run would flood a two-core machine).
    const statesOf = async () => {
      const rows = await db.rows<{ id: string; state: string }>(sql`select id, state from engine_runs`);
      const byId = new Map(rows.map((r) => [r.id, r.state]));
      return runs.map((r) => byId.get(r.runId));
    };
    const finals = await waitFor(
      'all 200 runs to finish',
      async () => {
        const states = await lock.shared(statesOf).catch(() => []);
        return states.length === runs.length && states.every((s) => s && ['succeeded', 'failed', 'compensated', 'compensation_failed', 'cancelled'].includes(s)) && states;
      },
      180_000,
      1_000,
    ).catch(async (err) => {
      const states = await statesOf();
      const unfinished = runs.map((r, i) => `${r.shape}/${r.n} ${r.runId}: ${states[i]}`).filter((s) => !/succeeded|compensated|failed/.test(s));
      throw new Error(`${(err as Error).message}; unfinished: ${unfinished.join(', ')}`, { cause: err });
    });
    clearInterval(progress);
    console.log(`chaos: ${runs.length} runs finished ${Math.round((Date.now() - began) / 1000)} s after the first start; ${kills} workers SIGKILLed, PostgreSQL restarted ${restarts} times`);
    stopChaos = true;
    await chaos;
    await Promise.all(restarting);
    expect(restarts).toBeGreaterThanOrEqual(2);
    expect(kills).toBeGreaterThanOrEqual(3);

    // Each check is soft: a failing run reports every broken guarantee at once.
    // 1. Every run ended in its expected state.
    const wrong = runs
      .map((r, i) => ({ ...r, state: finals[i] }))
      .filter((r) => r.state !== expected[r.shape].state)
      .map((r) => `${r.shape}/${r.n} ${r.runId}: ${r.state}`);
    if (wrong.length > 0) {
      for (const r of runs.filter((x, i) => finals[i] !== expected[x.shape].state).slice(0, 5)) {
        const detail = await engine.getRun(r.runId);
        console.log(`${r.shape}/${r.n} ${r.runId} ${detail?.state}:`, JSON.stringify(detail?.steps.map((st) => [st.key, st.status, st.error])));
      }
    }
    expect.soft(wrong, 'runs not in their expected final state').toEqual([]);

    // 2. Every side effect applied once; every step's requests under one idempotency key.
    const problems: string[] = [];
    for (const r of runs) {
      const { applied, refused } = expected[r.shape];
      for (const step of [...applied, ...refused]) {
        const path = `/${r.shape}/${r.n}/${step}`;
        const times = target.applied.filter((a) => a.path === path).length;
        const keys = new Set(target.requests.filter((a) => a.path === path).map((a) => a.key));
        if (times !== (applied.includes(step) ? 1 : 0)) problems.push(`${path}: applied ${times} times`);
        if (keys.size !== 1) problems.push(`${path}: ${keys.size} idempotency keys (${[...keys].join(', ')})`);
      }
    }
    const known = new Set(runs.flatMap((r) => [...expected[r.shape].applied, ...expected[r.shape].refused].map((s) => `/${r.shape}/${r.n}/${s}`)));
    for (const a of target.applied) if (!known.has(a.path)) problems.push(`${a.path}: unexpected side effect`);
    expect.soft(problems, 'side effects').toEqual([]);

    // 3. No attempt left running.
    const [left] = await db.rows<{ n: number }>(sql`select count(*)::int as n from engine_attempts where status = 'running'`);
    expect.soft(left?.n, 'attempts left running').toBe(0);

    // 4. The audit chain is intact.
    const verify = await runCli(['audit', 'verify', '--quiet'], env);
    expect.soft(verify.code, `${verify.stdout}${verify.stderr}`).toBe(0);

    // 5. No process ended or logged an error nobody caught; the survivors stop cleanly.
    expect.soft(unexpectedExits).toEqual([]);
    for (const w of allWorkers) expect.soft(w.output(), `worker on :${w.port}`).not.toMatch(/uncaught exception|unhandled promise rejection|reading 'write'/);
    for (const w of workers.splice(0)) {
      killedByTest.add(w);
      w.kill('SIGTERM');
      expect(await w.exited, w.output().slice(-2000)).toBe(0);
    }
  }, 420_000);
});
