import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase, TEST_DATABASE_URL } from '../support/databases.js';
import { childEnv, runCli, type ServeProcess, startServe } from '../support/quench-process.js';
import { syntheticSlo } from './service-harness.js';

/**
 * Two `quench serve` replicas on one PostgreSQL database: one is elected and evaluates (the
 * other's cron ticks do nothing), both answer the gate identically from the stored state, and
 * when the evaluator is killed the other takes over within one lease. The audit trail holds
 * each alert transition once. Several connections: PostgreSQL only.
 */
const slo = syntheticSlo({
  name: 'api-availability',
  service: 'api',
  sli: `    repeat: 20s
    script: [{ at: "0", errorRatio: 0.5 }, { at: 10s, errorRatio: 0 }]`,
  rest: `alerting:
  windows: [{ severity: page, long: 10s, short: 5s, factor: 2 }]
  page: { for: 2s }
`,
});
// Every 20 s the page breaches for ~10 s: pending, firing, resolved, pending… while both
// replicas run. The budget (30 days at ~25% errors) stays spent, so the freeze holds.

// Long enough that a loaded CI machine does not starve a healthy holder past its lease.
const LEASE_MS = 6_000;
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
const cycles = (p: ServeProcess) => (p.output().match(/"SLO evaluation cycle"/g) ?? []).length;

type Transition = { seq: number; severity: string; from: string; to: string };
/** One evaluator means one chain per severity: each transition starts where the last one ended. */
function expectChained(transitions: Transition[]) {
  for (const severity of new Set(transitions.map((t) => t.severity))) {
    const chain = transitions.filter((t) => t.severity === severity);
    for (let i = 1; i < chain.length; i++) {
      expect(chain[i]!.from, `transition ${chain[i]!.seq} (${severity}) repeats or skips: ${JSON.stringify(chain.slice(Math.max(0, i - 2), i + 1))}`).toBe(chain[i - 1]!.to);
    }
  }
}

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
      LOG_LEVEL: 'debug',
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
    await until('the freeze on A', async () => ((await ask(a)).status === 423 ? true : undefined), 30_000);
    await until('the freeze on B', async () => ((await ask(b)).status === 423 ? true : undefined), 10_000);
    // The stored budget changes every second; asked within one snapshot, both answer alike.
    const [fromA, fromB] = await until(
      'identical answers',
      async () => {
        const pair = await Promise.all([ask(a), ask(b)]);
        return JSON.stringify(pair[0]) === JSON.stringify(pair[1]) ? pair : undefined;
      },
      10_000,
    );
    expect(fromB).toEqual(fromA);
    expect(fromA.status).toBe(423);
    const check = await runCli(['gate', 'check', 'api'], childEnv({ QUENCH_URL: b.url }));
    expect(check.code).toBe(3);
    // The follower reports the leader's stored evaluation, not its own (idle) evaluator's.
    const onB = (await (await fetch(`${b.url}/v1/slos/api-availability`)).json()) as { state: string; evaluatedAt: string | null };
    expect(onB.state).toBe('ok');
    expect(onB.evaluatedAt).not.toBeNull();

    // Both run through several breach/recovery rounds: B never evaluates, and the alert
    // transitions form one chain (two evaluators would each record the same step).
    const transitions = async () =>
      sql<Transition[]>`
        select seq, data->>'severity' as severity, data->>'from' as "from", data->>'to' as "to" from audit_events
        where action like 'slo.alert.%' order by seq`;
    await until('a full round of transitions', async () => ((await transitions()).filter((t) => t.to === 'resolved').length >= 1 ? true : undefined), 60_000);
    await new Promise((r) => setTimeout(r, 5_000));
    expect(leads(b)).toBe(0);
    expect(cycles(b)).toBe(0);
    expect(cycles(a)).toBeGreaterThan(5);
    const before = await transitions();
    expect(before.map((t) => t.to)).toEqual(expect.arrayContaining(['pending', 'firing', 'resolved']));
    expectChained(before);
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
    // B loaded the stored alert states: the chain goes on unbroken across the takeover, and
    // the freeze was not re-made.
    await until('a transition by B', async () => ((await transitions()).length > before.length ? true : undefined), 30_000);
    expect(cycles(b)).toBeGreaterThan(0);
    expectChained(await transitions());
    const [after] = await sql<{ n: number }[]>`select count(*)::int as n from audit_events where action = 'gate.freeze'`;
    expect(after!.n).toBe(1);

    // A hung leader (SIGSTOP) loses its lease too: the server ends its idle session after one
    // lease, a third replica takes over, and the paused one steps down when it resumes.
    const c = await startServe(env);
    cleanups.push(() => c.kill('SIGKILL'));
    b.kill('SIGSTOP');
    const pausedAt = Date.now();
    await until('C to take over from the paused B', async () => (leads(c) > 0 ? true : undefined), LEASE_MS * 2 + 5_000);
    expect(Date.now() - pausedAt).toBeLessThan(LEASE_MS * 2 + 2_000);
    const cyclesOfB = cycles(b);
    b.kill('SIGCONT');
    await until('B to step down', async () => (/stepping down|lock is gone/.test(b.output()) ? true : undefined), 10_000);
    // A cycle in flight when B was paused may finish (there is no fencing token, docs/gate.md),
    // and its log line may come after the step-down line (seen in CI): let it land, then no new
    // cycle may start.
    await new Promise((r) => setTimeout(r, 3_000));
    const afterResume = cycles(b);
    expect(afterResume).toBeLessThanOrEqual(cyclesOfB + 1);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(cycles(b)).toBe(afterResume);
    expect(cycles(c)).toBeGreaterThan(0);
  });
});
