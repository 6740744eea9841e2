import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { servedPostgres, TEST_DATABASE_URL } from '../support/databases.js';
import { genericBody, signGeneric } from '../support/ingest-webhooks.js';
import { childEnv, runCli, type ServeProcess, startServe } from '../support/quench-process.js';
import { waitFor } from '../support/wait-for.js';

// QUENCH_INGEST_WORKER=off makes an intake replica: it answers webhooks (each 202 a committed
// inbox row) and processes none of them; a replica with the worker on, on the same database,
// processes them all, exactly once, woken by the intake replica's NOTIFY.
const PLAYBOOK = `apiVersion: quench/v1
kind: Playbook
metadata:
  name: deploy-failed
  owner: platform
triggers:
  - source: generic:intake
    type: deploy.failed
steps:
  - id: note
    kind: action
    action: log
    params:
      message: deploy failed
`;
const SECRET = 'intake-secret';

describe('QUENCH_INGEST_WORKER', () => {
  it('refuses a value other than on or off, naming the variable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quench-intake-cfg-'));
    try {
      const res = await runCli(['serve'], childEnv({ QUENCH_DATA_DIR: dir, QUENCH_INGEST_WORKER: 'maybe', PORT: '0' }), 30_000);
      expect(res.code).not.toBe(0);
      expect(res.stderr + res.stdout).toMatch(/QUENCH_INGEST_WORKER/);
      expect(res.stderr + res.stdout).toMatch(/on or off/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe.skipIf(!TEST_DATABASE_URL)('an intake replica beside a processing replica (PostgreSQL)', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterAll(async () => {
    for (const fn of cleanup.reverse()) await fn();
  });

  it('accepts without processing; the processing replica does each delivery once, woken by the intake replica', async () => {
    const { url, sql: sqlc, dir } = await servedPostgres('quench_intake', 'deploy.yaml', PLAYBOOK, cleanup);
    const env = (worker: 'on' | 'off') =>
      childEnv({
        DATABASE_URL: url,
        QUENCH_DATA_DIR: join(dir, `data-${worker}`),
        QUENCH_PLAYBOOK_DIR: dir,
        QUENCH_SLO_DIR: join(dir, 'none'),
        QUENCH_WEBHOOK_SECRETS: `intake=${SECRET}`,
        QUENCH_INGEST_WORKER: worker,
        LOG_LEVEL: 'warn',
      });
    // Distinct labels: each delivery is its own alert, so each starts its own run.
    const send = async (serve: ServeProcess, id: string) => {
      const body = genericBody(id, { labels: { alert: id } });
      const res = await fetch(`${serve.url}/webhooks/generic/intake`, { method: 'POST', body, headers: signGeneric(SECRET, body, Date.now() / 1000) });
      return res.status;
    };
    const states = async () =>
      Object.fromEntries(
        (await sqlc<Array<{ status: string; n: number }>>`select status, count(*)::int as n from ingest_inbox group by status`).map((r) => [r.status, r.n]),
      );

    const intake = await startServe(env('off'));
    cleanup.push(() => intake.kill('SIGKILL'));
    expect(intake.output()).toMatch(/QUENCH_INGEST_WORKER=off: this replica accepts webhooks into the inbox but processes none/);
    for (let i = 0; i < 10; i++) expect(await send(intake, `first-${i}`)).toBe(202);
    // Longer than the worker's linger, poll and NOTIFY: an intake replica with a live worker would have processed them.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await states()).toEqual({ pending: 10 });
    expect((await sqlc<[{ n: number }]>`select count(*)::int as n from engine_runs`)[0].n).toBe(0);

    const processing = await startServe(env('on'));
    cleanup.push(() => processing.kill('SIGKILL'));
    await waitFor('the processing replica to take the backlog', async () => (await states()).done === 10, 30_000);

    // Later deliveries reach the processing replica through the intake replica's wake-up, well
    // before the backstop poll would find them.
    const sentAt = Date.now();
    for (let i = 0; i < 10; i++) expect(await send(intake, `second-${i}`)).toBe(202);
    await waitFor('the second deliveries to be processed', async () => (await states()).done === 20, 30_000);
    console.info(`processed ${Date.now() - sentAt} ms after the intake replica accepted them`);

    const [counts] = await sqlc<[{ runs: number; completions: number; events: number }]>`
      select (select count(*)::int from engine_runs) as runs,
             (select sum(completions)::int from ingest_inbox) as completions,
             (select count(*)::int from ingest_events where outcome = 'started') as events`;
    expect(counts).toEqual({ runs: 20, completions: 20, events: 20 });
    intake.kill('SIGTERM');
    processing.kill('SIGTERM');
    expect(await intake.exited).toBe(0);
    expect(await processing.exited).toBe(0);
  }, 180_000);
});
