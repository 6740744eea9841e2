import { readFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { scenarioDrillsOf } from '../../src/drills/capability.js';
import type { RunningService } from '../../src/service.js';
import { TEST_DATABASE_URL } from '../support/databases.js';
import { type DrillHarness, startDrillHarness } from './drill-harness.js';

/**
 * Races of armed scenario drills across replicas and inside one (PostgreSQL: several
 * connections), landed in exact windows with row locks and held calls, never with sleeps.
 */
const drills = { 'checkout.yaml': readFileSync(new URL('../../drills/checkout.yaml', import.meta.url), 'utf8') };

const entries = async (s: RunningService, id: string) =>
  (await s.ctx.audit.page({ limit: 5000 })).filter((e) => e.subject?.type === 'drill_scenario' && e.subject.id === id).map((e) => e.action);
const armedId = async (s: RunningService) => (await s.ctx.db.rows<{ id: string }>(sql`select id from drill_armed_scenarios where id <> 'decoy'`))[0]!.id;

describe.runIf(TEST_DATABASE_URL)('armed scenario drill races (postgres)', () => {
  const open: DrillHarness[] = [];
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of closers.splice(0)) await c().catch(() => undefined);
    for (const h of open.splice(0).reverse()) await h.stop().catch(() => undefined);
  });
  const start = async (name: string, env: Record<string, string> = {}) => {
    const h = await startDrillHarness('postgres', { name, env, drills });
    open.push(h);
    return h;
  };

  it('a tick whose claim was in flight while start() armed a scenario does not drop it and adopt it again', async () => {
    const a = await start('race_arm_tick');
    const drillsA = scenarioDrillsOf(a.service.ctx)!;
    const url = a.service.ctx.config.DATABASE_URL!;
    // A row that a claim has to lock, held by another connection: the tick's claim starts (its
    // snapshot taken) and then waits, while the arming commits its own row beside it.
    await a.service.ctx.db.rows(sql`insert into drill_armed_scenarios (id, scenario, playbook, start, correlation_id, state, armed_at, expires_at)
      values ('decoy', 'none', 'none', '{"playbook":"none","scenario":"none","user":"x","via":"api"}'::jsonb, 'c', 'armed', now(), now() + interval '1 hour')`);
    const locker = postgres(url, { max: 1, onnotice: () => {} });
    closers.push(() => locker.end({ timeout: 1 }));
    let unlock!: () => void;
    const held = new Promise<void>((r) => (unlock = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const lockTx = locker.begin(async (tx) => {
      await tx`select id from drill_armed_scenarios where id = 'decoy' for update`;
      locked();
      await held;
    });
    closers.push(async () => {
      unlock();
      await lockTx;
    });
    await isLocked;
    const tick = drillsA.tick();
    await a.until('the tick claim to wait on the decoy row', async () => {
      const rows = await a.service.ctx.db.rows<{ n: number }>(
        sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query ilike 'update "drill_armed_scenarios"%'`,
      );
      return rows[0]!.n > 0 ? true : undefined;
    });
    expect(await a.slash('ada', '/drill', 'checkout-fast-burn scenario=checkout-bad-deploy')).toMatch(/armed/);
    unlock();
    await lockTx;
    await tick;
    await drillsA.tick();
    await drillsA.tick();
    const id = await armedId(a.service);
    // The replica that armed it holds it all along: nothing was adopted, by itself or anyone.
    expect(await entries(a.service, id)).toEqual(['drill.scenario.armed']);
  }, 120_000);

  /** Replicas a and b on one database; a armed the scenario; returns a way to stall a's calls to `fn`. */
  const twoReplicas = async (name: string) => {
    const a = await start(`${name}_a`);
    const b = await start(`${name}_b`, { DATABASE_URL: a.service.ctx.config.DATABASE_URL! });
    expect(await a.slash('ada', '/drill', 'checkout-fast-burn scenario=checkout-bad-deploy')).toMatch(/armed/);
    return { a, b, id: await armedId(a.service) };
  };
  /** Holds every call of `obj[method]` matching `when` until released; `stalled` resolves at the first. */
  const stall = <T extends object, K extends keyof T>(obj: T, method: K, when: (...args: never[]) => boolean) => {
    const original = (obj[method] as (...args: unknown[]) => Promise<unknown>).bind(obj);
    let go!: () => void;
    const gate = new Promise<void>((r) => (go = r));
    let entered!: () => void;
    const stalled = new Promise<void>((r) => (entered = r));
    (obj as Record<K, unknown>)[method] = async (...args: unknown[]) => {
      if ((when as (...a: unknown[]) => boolean)(...args)) {
        entered();
        await gate;
      }
      return original(...args);
    };
    closers.push(async () => go());
    return { go, stalled };
  };
  /** b takes the scenario over from a stalled a (its lease made to run out) and ticks until the row leaves `state`. */
  const takeOver = async (a: DrillHarness, b: DrillHarness, id: string, state: string) => {
    await a.service.ctx.db.rows(sql`update drill_armed_scenarios set lease_until = now() - interval '1 second' where id = ${id}`);
    const drillsB = scenarioDrillsOf(b.service.ctx)!;
    return b.until(`b to move the scenario on from ${state}`, async () => {
      await drillsB.tick();
      const [row] = await b.service.ctx.db.rows<{ state: string }>(sql`select state from drill_armed_scenarios where id = ${id}`);
      return row!.state !== state ? row!.state : undefined;
    });
  };

  it('a replica stalled after claiming its fire: the replica that takes over starts that run, once, and never expires it', async () => {
    const { a, b, id } = await twoReplicas('stall_fire');
    // a claims the fire on the row, then stalls just as it would start the run (a GC pause, a
    // slow event loop); its other ticks wait behind this one, so its lease runs out.
    const held = stall(a.service.ctx.ports.engine, 'startRun', (() => true) as never);
    a.clock.advance(150_000);
    const firing = scenarioDrillsOf(a.service.ctx)!.tick();
    await held.stalled;
    b.clock.advance(31 * 60_000); // past the expiry: a claimed fire is still started, not expired
    expect(await takeOver(a, b, id, 'firing')).toBe('fired');
    held.go();
    await firing; // a's start adopts the same run (start key drill:<id>) and records nothing more
    expect(await entries(b.service, id)).toEqual(['drill.scenario.armed', 'drill.scenario.adopted', 'drill.scenario.fired']);
    const runs = await b.service.ctx.ports.engine.listRuns();
    expect(runs).toHaveLength(1);
    const run = await b.run(runs[0]!.id);
    expect(run.trigger).toMatchObject({ key: `drill:${id}`, labels: { drill: 'true', scenario: 'checkout-bad-deploy', requestedBy: 'ada@example.com' } });
  }, 120_000);
});
