import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { systemClock } from '../../src/core/clock.js';
import { type Database, openDatabase } from '../../src/db/database.js';
import type { Engine } from '../../src/engine/engine.js';
import { POSTGRES_BIN, type PrivatePostgres, startPrivatePostgres } from '../support/private-postgres.js';
import { childEnv, type ServeProcess, startServe } from '../support/quench-process.js';
import { alertmanagerBody } from '../support/ingest-webhooks.js';
import { waitFor } from '../support/wait-for.js';
import { playbook, testEngine } from './engine-harness.js';
import { startTarget, type Target } from './engine-target.js';

/**
 * `quench serve` keeps running while its PostgreSQL restarts or goes away for a failover-length
 * outage, and finishes every run afterwards without an operator. Before the postgres.js patch
 * (scripts/patch-postgres.mjs), a fast restart with queries in flight ended the process with an
 * uncaught `TypeError: Cannot read properties of null (reading 'write')`.
 *
 * The cluster is the test's own (test/support/private-postgres.ts): never the shared one.
 */
describe.skipIf(!POSTGRES_BIN)('quench serve through PostgreSQL restarts and outages (private cluster)', () => {
  let pg: PrivatePostgres;
  let url: string;
  let target: Target;
  let serve: ServeProcess;
  let db: Database;
  let engine: Engine;
  let exitedEarly: number | string | undefined;

  beforeAll(async () => {
    pg = await startPrivatePostgres();
    url = await pg.createDatabase('quench_restart');
    target = await startTarget();
    serve = await startServe(
      childEnv({
        DATABASE_URL: url,
        QUENCH_HTTP_ALLOWLIST: target.host,
        QUENCH_PLAYBOOK_DIR: mkdtempSync(join(tmpdir(), 'quench-playbooks-')),
        QUENCH_ENGINE_LEASE_MS: '3000',
        QUENCH_ENGINE_POLL_MS: '200',
        QUENCH_SLO_EVAL_CRON: '*/2 * * * * *',
        LOG_LEVEL: 'warn',
      }),
    );
    void serve.exited.then((code) => {
      exitedEarly = code;
    });
    db = await openDatabase({ url, poolMax: 2 });
    engine = testEngine(db, systemClock);
  }, 120_000);

  afterAll(async () => {
    serve?.kill('SIGKILL');
    await serve?.exited;
    await db?.close().catch(() => {});
    await target?.close();
    await pg?.destroy();
  });

  /** Runs of three HTTP calls with a pause between, so steps are in flight when PostgreSQL goes. */
  const startRuns = async (prefix: string, count: number) => {
    const pb = playbook(`${prefix}-runs`, [
      { id: 's1', kind: 'action', action: 'http.request', params: { url: `${target.url}/${prefix}/\${{ inputs.n }}/s1` } },
      { id: 'pause', kind: 'action', action: 'wait', params: { duration: '300ms' } },
      { id: 's2', kind: 'action', action: 'http.request', params: { url: `${target.url}/${prefix}/\${{ inputs.n }}/s2` } },
      { id: 's3', kind: 'action', action: 'http.request', params: { url: `${target.url}/${prefix}/\${{ inputs.n }}/s3` } },
    ], { inputs: { n: { type: 'integer', required: true } } });
    const ids: string[] = [];
    for (let n = 0; n < count; n++) ids.push((await engine.startRun({ playbook: pb, inputs: { n } })).runId);
    return ids;
  };

  /** Every run succeeded, and each step's side effect was applied exactly once. */
  const expectAllDone = async (prefix: string, ids: string[]) => {
    await waitFor(
      `${ids.length} ${prefix} runs to finish`,
      async () => {
        const states = await Promise.all(ids.map(async (id) => (await engine.getRun(id).catch(() => undefined))?.state));
        return states.every((s) => s === 'succeeded' || s === 'failed' || s === 'compensated') && states;
      },
      120_000,
      500,
    );
    for (const id of ids) expect((await engine.getRun(id))?.state, `run ${id}`).toBe('succeeded');
    for (let n = 0; n < ids.length; n++) {
      for (const s of ['s1', 's2', 's3']) {
        const path = `/${prefix}/${n}/${s}`;
        expect(target.applied.filter((r) => r.path === path).length, path).toBe(1);
      }
    }
    const running = await db.rows<{ n: number }>(sql`select count(*)::int as n from engine_attempts where status = 'running'`);
    expect(running[0]?.n).toBe(0);
  };

  const alert = (name: string) =>
    fetch(`${serve.url}/webhooks/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: alertmanagerBody([{ labels: { alertname: `${name}-outage` }, fingerprint: `fp-${name}` }], `{}:{alertname="${name}-outage"}`),
    });

  const readyz = async () => {
    try {
      return (await fetch(`${serve.url}/readyz`)).status;
    } catch (err) {
      return `unreachable: ${(err as Error).message}`;
    }
  };

  it('stays up through two fast restarts with steps in flight; every run completes', async () => {
    const ids = await startRuns('restart', 30);
    await waitFor('steps in flight', async () => target.requests.length >= 10, 30_000, 20);
    await pg.restart('fast');
    await waitFor('more steps after the first restart', async () => target.requests.length >= 50, 60_000, 50).catch((err) => {
      throw new Error(`${err.message}; exited: ${exitedEarly}; requests ${target.requests.length}\n${serve.output().slice(-6000)}`);
    });
    await pg.restart('fast');
    await expectAllDone('restart', ids);
    expect(exitedEarly, serve.output()).toBeUndefined();
    expect(serve.output()).not.toMatch(/reading 'write'|uncaught exception|unhandled promise rejection/);
  }, 240_000);

  it('answers /readyz 503 within its limit while the database hangs (every PostgreSQL process SIGSTOPped)', async () => {
    expect(await readyz()).toBe(200);
    await pg.freeze();
    try {
      // Without a limit the probe waits on a query nobody answers (until the fetch gives up here).
      const res = await fetch(`${serve.url}/readyz`, { signal: AbortSignal.timeout(10_000) });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { reason: string }).reason).toMatch(/did not answer within/);
      expect((await fetch(`${serve.url}/healthz`, { signal: AbortSignal.timeout(10_000) })).status).toBe(200);
    } finally {
      await pg.thaw();
    }
    await waitFor('/readyz to report 200 after the thaw', async () => (await readyz()) === 200, 60_000, 200);
    expect(exitedEarly, serve.output()).toBeUndefined();
  }, 120_000);

  it('rides out a 35 s outage: /readyz is 503 while the database is away and 200 after; runs complete', async () => {
    const ids = await startRuns('outage', 20);
    await waitFor('steps in flight', async () => target.requests.length >= 100, 30_000, 20);
    await pg.stop('fast');
    const away = Date.now();
    await waitFor('/readyz to report 503', async () => (await readyz()) === 503, 30_000, 200);
    const seen = new Set<number | string>();
    while (Date.now() - away < 35_000) {
      seen.add(await readyz());
      await new Promise((r) => setTimeout(r, 1_000));
    }
    expect([...seen]).toEqual([503]);
    // A webhook is not acknowledged while it cannot be stored: the sender keeps it and retries.
    expect((await alert('during')).status).toBeGreaterThanOrEqual(500);
    expect(exitedEarly, serve.output()).toBeUndefined();
    await pg.start();
    const back = new Date();
    await waitFor('/readyz to report 200 again', async () => (await readyz()) === 200, 60_000, 200);
    await expectAllDone('outage', ids);
    // The other loops resumed by themselves: the inbox worker handles a new delivery, and the
    // SLO evaluator (every 2 s here) stores samples again.
    expect((await alert('after')).status).toBe(202);
    await waitFor(
      'the inbox worker to handle the delivery sent after the outage',
      async () => {
        const rows = await db.rows<{ status: string }>(sql`select status from ingest_inbox where body like ${'%after-outage%'}`);
        return rows[0]?.status === 'done';
      },
      60_000,
    );
    await waitFor(
      'an SLO sample stored after the outage',
      async () => (await db.rows(sql`select 1 from slo_samples where at > ${back.toISOString()}::timestamptz limit 1`)).length > 0,
      60_000,
    );
    expect(exitedEarly, serve.output()).toBeUndefined();
    expect(serve.output()).not.toMatch(/reading 'write'|uncaught exception|unhandled promise rejection/);
  }, 300_000);
});
