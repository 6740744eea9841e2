import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { servedPostgres, TEST_DATABASE_URL } from '../support/databases.js';
import { genericBody, signGeneric } from '../support/ingest-webhooks.js';
import { childEnv, type ServeProcess, startServe } from '../support/quench-process.js';
import { waitFor } from '../support/wait-for.js';

// SIGKILL `quench serve` in the middle of a burst of webhooks, restart it on the same
// PostgreSQL database, let senders retry what got no answer (as real senders do), and check
// that every request answered 202 has exactly one inbox entry, processed exactly once, and
// that no run started twice.
const PLAYBOOK = `apiVersion: quench/v1
kind: Playbook
metadata:
  name: deploy-failed
  owner: platform
triggers:
  - source: generic:burst
    type: deploy.failed
    labels:
      page: "yes"
steps:
  - id: note
    kind: action
    action: log
    params:
      message: deploy failed
`;
const SECRET = 'burst-secret';
const TOTAL = 400;
const KILL_AFTER = 250;
const CONCURRENCY = 16;

describe.skipIf(!TEST_DATABASE_URL)('SIGKILL during a webhook burst (PostgreSQL)', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterAll(async () => {
    for (const fn of cleanup.reverse()) await fn();
  });

  it('loses no accepted request and processes each exactly once after restart', async () => {
    const { url, sql: sqlc, dir } = await servedPostgres('quench_crash', 'deploy.yaml', PLAYBOOK, cleanup);
    const env = childEnv({
      DATABASE_URL: url,
      QUENCH_PLAYBOOK_DIR: dir,
      QUENCH_SLO_DIR: join(dir, 'none'),
      QUENCH_WEBHOOK_SECRETS: `burst=${SECRET}`,
      QUENCH_WEBHOOK_RATE_LIMIT: '100000',
      QUENCH_WEBHOOK_RATE_BURST: '100000',
      // A dead worker's claims are taken over after this; short so the test does not wait a minute.
      QUENCH_INGEST_LEASE_SECONDS: '2',
      LOG_LEVEL: 'warn',
    });
    const bodies = Array.from({ length: TOTAL }, (_, i) =>
      genericBody(`burst-${i}`, { labels: { n: String(i), page: i % 3 === 0 ? 'yes' : 'no' } }),
    );
    const send = (serve: ServeProcess, i: number) =>
      fetch(`${serve.url}/webhooks/generic/burst`, {
        method: 'POST',
        body: bodies[i],
        headers: signGeneric(SECRET, bodies[i]!, Date.now() / 1000),
      }).then(
        async (res) => ({ status: res.status, body: (await res.json()) as { status?: string } }),
        () => ({ status: 0, body: {} }),
      );

    let serve = await startServe(env);
    cleanup.push(() => serve.kill('SIGKILL'));
    const answered = new Map<number, number>();
    let next = 0;
    let killed = false;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < TOTAL) {
          const i = next++;
          const res = await send(serve, i);
          answered.set(i, res.status);
          const accepted = [...answered.values()].filter((s) => s === 202).length;
          if (!killed && accepted >= KILL_AFTER) {
            killed = true;
            serve.kill('SIGKILL');
          }
        }
      }),
    );
    expect(await serve.exited).toBe('SIGKILL');
    const accepted = [...answered].filter(([, s]) => s === 202).map(([i]) => `burst-${i}`);
    const unanswered = [...answered].filter(([, s]) => s !== 202).map(([i]) => i);
    // The kill landed mid-burst: some requests got no 202.
    expect(unanswered.length).toBeGreaterThan(0);
    const states = await sqlc<Array<{ status: string; n: number }>>`select status, count(*)::int as n from ingest_inbox group by status`;
    console.info(`killed after ${accepted.length} accepted, ${unanswered.length} unanswered; inbox: ${JSON.stringify(states)}`);

    serve = await startServe(env);
    // Senders retry whatever got no 202; a retry of something stored before the kill is a duplicate.
    for (const i of unanswered) {
      const res = await send(serve, i);
      expect(res.status).toBe(202);
    }
    await waitFor(
      'the inbox to drain',
      async () => {
        const [row] = await sqlc<[{ n: number }]>`select count(*)::int as n from ingest_inbox where status <> 'done'`;
        return row.n === 0;
      },
      240_000,
    );

    // Every request answered 202 has exactly one inbox entry, processed exactly once.
    const rows = await sqlc<Array<{ key: string; status: string; completions: number; events: number }>>`
      select i.delivery_key as key, i.status, i.completions, (select count(*)::int from ingest_events e where e.inbox_id = i.id) as events
        from ingest_inbox i`;
    const byKey = new Map(rows.map((r) => [r.key, r]));
    expect(rows).toHaveLength(TOTAL);
    for (const key of accepted) expect(byKey.get(key)).toMatchObject({ status: 'done', completions: 1, events: 1 });
    expect(rows.every((r) => r.status === 'done' && r.completions === 1 && r.events === 1)).toBe(true);

    // Each paging event started exactly one run; nothing started twice.
    const [counts] = await sqlc<[{ started: number; runs: number; distinct: number; linked: number }]>`
      select (select count(*)::int from ingest_events where outcome = 'started') as started,
             (select count(*)::int from engine_runs) as runs,
             (select count(distinct correlation_id)::int from engine_runs) as distinct,
             (select count(*)::int from ingest_events e join engine_runs r on r.id = e.run_id and r.correlation_id = e.correlation_id
               where e.outcome = 'started') as linked`;
    const paging = Math.ceil(TOTAL / 3);
    expect(counts).toEqual({ started: paging, runs: paging, distinct: paging, linked: paging });
    serve.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
  }, 360_000);
});
