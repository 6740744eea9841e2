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

  // A KNOWN DEFECT, not fixed here (reported): the fire starts the run (start key drill:<id>)
  // before the conditional update that ends the row, so a replica whose lease ran out mid-fire
  // starts a DRILL run for a scenario another replica has since ended as expired (or lost), with
  // no `drill.scenario.fired`. Closing it needs the fire to be claimed on the row before the run
  // starts, with the burn event kept for an adopter to finish it. Drop `.fails` once it is.
  it.fails('a replica stalled while firing, whose scenario another replica took over and ended as expired, starts no run', async () => {
    const a = await start('stall_fire_a');
    const b = await start('stall_fire_b', { DATABASE_URL: a.service.ctx.config.DATABASE_URL! });
    expect(await a.slash('ada', '/drill', 'checkout-fast-burn scenario=checkout-bad-deploy')).toMatch(/armed/);
    const id = await armedId(a.service);
    // A's evaluation fires and stalls just as it would start the run (a GC pause, a slow event loop).
    const engine = a.service.ctx.ports.engine;
    const startRun = engine.startRun.bind(engine);
    let go!: () => void;
    const gate = new Promise<void>((r) => (go = r));
    let entered!: () => void;
    const stalled = new Promise<void>((r) => (entered = r));
    engine.startRun = async (input) => {
      entered();
      await gate;
      return startRun(input);
    };
    closers.push(async () => go());
    a.clock.advance(150_000); // past the page alert's `for: 2m`
    const firing = scenarioDrillsOf(a.service.ctx)!.tick();
    await stalled;
    // Stalled, A renews nothing (its ticks wait behind this one): its lease runs out, B takes the
    // scenario over, and B's clock says it expired (30 min).
    b.clock.advance(31 * 60_000);
    await a.service.ctx.db.rows(sql`update drill_armed_scenarios set lease_until = now() - interval '1 second' where id = ${id}`);
    const drillsB = scenarioDrillsOf(b.service.ctx)!;
    await b.until('B to end the scenario', async () => {
      await drillsB.tick();
      const [row] = await b.service.ctx.db.rows<{ state: string }>(sql`select state from drill_armed_scenarios where id = ${id}`);
      return row!.state !== 'armed' ? row!.state : undefined;
    });
    go();
    await firing;
    expect(await entries(b.service, id)).toEqual(['drill.scenario.armed', 'drill.scenario.adopted', 'drill.scenario.expired']);
    // An expired scenario must not start a DRILL run behind its audit trail's back.
    expect(await b.service.ctx.ports.engine.listRuns()).toEqual([]);
  }, 120_000);
});
