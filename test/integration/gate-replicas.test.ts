import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase, TEST_DATABASE_URL } from '../support/databases.js';
import { childEnv, runCli, type ServeProcess, startServe } from '../support/quench-process.js';

/**
 * Two `quench serve` replicas on one PostgreSQL database: one is elected and evaluates (the
 * other's cron ticks do nothing), both answer the gate identically from the stored state, and
 * when the evaluator is killed the other takes over within one lease. The audit trail holds
 * each alert transition once. Several connections: PostgreSQL only.
 */
const slo = `apiVersion: quench/v1
kind: SLO
metadata: { name: api-availability }
service: api
objective: 99.9
window: 30d
sli:
  synthetic:
    requestsPerSecond: 10
    script: [{ at: "0", errorRatio: 0.5 }]
alerting: { page: { for: 2s }, ticket: { for: 2s } }
`;

const LEASE_MS = 3_000;
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterAll(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const leads = (p: ServeProcess) => (p.output().match(/this replica leads/g) ?? []).length;

describe.skipIf(!TEST_DATABASE_URL)('deploy gate across two replicas', () => {
  it('one evaluates, both answer alike, the other takes over within one lease, transitions audited once', async () => {
    const { url, drop } = await createPostgresDatabase('quench_gate');
    cleanups.push(drop);
    const dir = mkdtempSync(join(tmpdir(), 'quench-gate-replicas-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(join(dir, 'slo'));
    mkdirSync(join(dir, 'playbooks'));
    writeFileSync(join(dir, 'slo', 'api.yaml'), slo);
    const env = childEnv({
      DATABASE_URL: url,
      QUENCH_SLO_DIR: join(dir, 'slo'),
      QUENCH_PLAYBOOK_DIR: join(dir, 'playbooks'),
      QUENCH_DATA_DIR: join(dir, 'data'),
      QUENCH_SLO_EVAL_CRON: '* * * * * *',
      QUENCH_LEADER_LEASE_MS: String(LEASE_MS),
    });
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    cleanups.push(() => sql.end({ timeout: 1 }));

    const a = await startServe(env);
    cleanups.push(() => a.kill('SIGKILL'));
    await until('replica A to lead', async () => (leads(a) > 0 ? true : undefined), 20_000);
    const b = await startServe(env);
    cleanups.push(() => b.kill('SIGKILL'));

    // Both answer from the stored state: identical 423 answers.
    const ask = async (p: ServeProcess) => {
      const res = await fetch(`${p.url}/v1/deploy-gate?service=api&risk=high&change=c1`);
      return { status: res.status, body: await res.json() };
    };
    const fromA = await until('the freeze on A', async () => ((await ask(a)).status === 423 ? ask(a) : undefined), 30_000);
    const fromB = await until('the freeze on B', async () => ((await ask(b)).status === 423 ? ask(b) : undefined), 10_000);
    expect(fromB).toEqual(fromA);
    const check = await runCli(['gate', 'check', 'api'], childEnv({ QUENCH_URL: b.url }));
    expect(check.code).toBe(3);
    // The follower reports the leader's stored evaluation, not its own (idle) evaluator's.
    const onB = (await (await fetch(`${b.url}/v1/slos/api-availability`)).json()) as { state: string; evaluatedAt: string | null };
    expect(onB.state).toBe('ok');
    expect(onB.evaluatedAt).not.toBeNull();

    // Several cycles later B has still not led, and each transition is in the audit trail once.
    await until('the page to fire', async () => {
      const [row] = await sql<{ n: number }[]>`select count(*)::int as n from audit_events where action = 'slo.alert.firing'`;
      return row!.n > 0 ? true : undefined;
    }, 30_000);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(leads(b)).toBe(0);
    const transitions = async () =>
      sql<{ action: string; severity: string; n: number }[]>`
        select action, data->>'severity' as severity, count(*)::int as n from audit_events
        where action like 'slo.alert.%' group by 1, 2 order by 1, 2`;
    const before = await transitions();
    expect(before.length).toBeGreaterThan(0);
    for (const t of before) expect(t.n, `${t.action} ${t.severity}`).toBe(1);
    const [freezes] = await sql<{ n: number }[]>`select count(*)::int as n from audit_events where action = 'gate.freeze'`;
    expect(freezes!.n).toBe(1);

    // Kill the evaluator: B takes over within one lease and keeps the stored budget fresh.
    a.kill('SIGKILL');
    await a.exited;
    const killedAt = Date.now();
    await until('B to take over', async () => (leads(b) > 0 ? true : undefined), LEASE_MS + 5_000);
    expect(Date.now() - killedAt).toBeLessThan(LEASE_MS + 2_000);
    const [stamp] = await sql<{ at: Date }[]>`select updated_at as at from gate_budgets where slo = 'api-availability'`;
    await until('an evaluation by B', async () => {
      const [row] = await sql<{ at: Date }[]>`select updated_at as at from gate_budgets where slo = 'api-availability'`;
      return row!.at.getTime() > stamp!.at.getTime() ? true : undefined;
    }, 10_000);
    expect((await ask(b)).status).toBe(423);
    // B loaded the stored alert states: no transition was repeated, the freeze was not re-made.
    expect(await transitions()).toEqual(before);
    const [after] = await sql<{ n: number }[]>`select count(*)::int as n from audit_events where action = 'gate.freeze'`;
    expect(after!.n).toBe(1);
  });
});
