import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { scenarioDrillsOf } from '../../src/drills/capability.js';
import type { RunningService } from '../../src/service.js';
import { TEST_DATABASE_URL } from '../support/databases.js';
import { type DrillHarness, startDrillHarness } from './drill-harness.js';

/**
 * Armed scenario drills are rows, not process memory: a restart (PGlite, PostgreSQL) or the
 * death of the replica that armed one (PostgreSQL: its lease runs out) hands the scenario to the
 * next replica, which fires the DRILL run once; a second replica running beside the first
 * neither adopts nor fires what the first holds; a scenario whose file went away meanwhile is
 * ended as `lost`, audited, and starts nothing.
 */
const kinds = [{ kind: 'pglite' as const }, ...(TEST_DATABASE_URL ? [{ kind: 'postgres' as const }] : [])];
const scenarioFile = readFileSync(new URL('../../drills/checkout.yaml', import.meta.url), 'utf8');
const drills = { 'checkout.yaml': scenarioFile };

const actions = async (s: RunningService) => (await s.ctx.audit.page({ limit: 5000 })).map((e) => e.action).filter((a) => a.startsWith('drill.scenario.'));
const armedRows = async (s: RunningService) =>
  s.ctx.db.rows<{ state: string; run_id: string | null; owner: string | null }>(sql`select state, run_id, owner from drill_armed_scenarios`);

describe.each(kinds)('durable scenario drills ($kind)', ({ kind }) => {
  const open: DrillHarness[] = [];
  let dataDir: string | undefined;
  afterEach(async () => {
    // The later replica first: the first one's stop drops the PostgreSQL database both use.
    for (const h of open.splice(0).reverse()) await h.stop().catch(() => undefined);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    dataDir = undefined;
  });

  /** A second service on the first one's database (PostgreSQL), or on its data folder once it stopped (PGlite). */
  const sameDatabase = (first: DrillHarness): Record<string, string> =>
    kind === 'postgres' ? { DATABASE_URL: first.service.ctx.config.DATABASE_URL! } : { QUENCH_DATA_DIR: dataDir! };
  const start = async (name: string, env: Record<string, string>, withDrills = true) => {
    const h = await startDrillHarness(kind, { name, env, ...(withDrills ? { drills } : {}) });
    open.push(h);
    return h;
  };

  it('a scenario armed before a restart (or the death of its replica) fires its DRILL run once, on the next service', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'quench-durable-drill-'));
    const first = await start(`durable_drill_${kind}`, kind === 'pglite' ? { QUENCH_DATA_DIR: dataDir } : {});
    expect(await first.slash('ada', '/drill', 'checkout-fast-burn scenario=checkout-bad-deploy')).toMatch(/armed/);
    first.clock.advance(60_000);
    expect(await scenarioDrillsOf(first.service.ctx)!.tick()).toBe(1); // pending, not fired
    expect(await first.service.ctx.ports.engine.listRuns()).toEqual([]);

    let second: DrillHarness;
    if (kind === 'pglite') {
      await first.stop(); // a restart: the data folder stays
      open.splice(open.indexOf(first), 1);
      second = await start(`durable_drill_${kind}_2`, sameDatabase(first));
    } else {
      // The first replica dies: it stops without handing its scenarios back, its lease still running.
      scenarioDrillsOf(first.service.ctx)!.stop = async () => undefined;
      await first.service.stop();
      second = await start(`durable_drill_${kind}_2`, sameDatabase(first));
      const drills2 = scenarioDrillsOf(second.service.ctx)!;
      await second.until('the dead replica lease to run out', async () => ((await drills2.tick()) === 1 ? true : undefined), 10_000);
    }
    const drills2 = scenarioDrillsOf(second.service.ctx)!;
    expect(await drills2.tick()).toBe(1);
    expect(await second.service.ctx.ports.engine.listRuns()).toEqual([]);
    second.clock.advance(150_000); // past the page alert's `for: 2m`, which starts over on the new replica
    expect(await drills2.tick()).toBe(0);
    const runs = await second.service.ctx.ports.engine.listRuns();
    expect(runs).toHaveLength(1);
    const run = await second.run(runs[0]!.id);
    expect(run.drill).toMatchObject({ scenario: 'checkout-bad-deploy', fail: ['rollback:once'] });
    expect(run.startedBy).toBe('user:ada@example.com');
    expect(await actions(second.service)).toEqual(['drill.scenario.armed', 'drill.scenario.adopted', 'drill.scenario.fired']);
    expect(await armedRows(second.service)).toEqual([{ state: 'fired', run_id: run.id, owner: null }]);
    // Nothing fires twice, however often it ticks.
    second.clock.advance(600_000);
    expect(await drills2.tick()).toBe(0);
    expect(await second.service.ctx.ports.engine.listRuns()).toHaveLength(1);
  }, 120_000);

  it('a scenario whose file is gone when a replica adopts it ends as lost, audited, and starts nothing', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'quench-durable-drill-'));
    const first = await start(`lost_drill_${kind}`, kind === 'pglite' ? { QUENCH_DATA_DIR: dataDir } : {});
    expect(await first.slash('ada', '/drill', 'checkout-fast-burn scenario=checkout-bad-deploy')).toMatch(/armed/);
    let second: DrillHarness;
    if (kind === 'pglite') {
      await first.stop();
      open.splice(open.indexOf(first), 1);
      second = await start(`lost_drill_${kind}_2`, sameDatabase(first), false);
    } else {
      await first.service.stop(); // a graceful stop hands the scenario back at once
      second = await start(`lost_drill_${kind}_2`, sameDatabase(first), false);
    }
    const drills2 = scenarioDrillsOf(second.service.ctx)!;
    expect(await drills2.tick()).toBe(0);
    second.clock.advance(300_000);
    expect(await drills2.tick()).toBe(0);
    expect(await second.service.ctx.ports.engine.listRuns()).toEqual([]);
    expect(await actions(second.service)).toEqual(['drill.scenario.armed', 'drill.scenario.lost']);
    const lost = (await second.service.ctx.audit.page({ limit: 5000 })).find((e) => e.action === 'drill.scenario.lost');
    expect(lost?.data).toMatchObject({ scenario: 'checkout-bad-deploy', reason: expect.stringMatching(/no drill scenario named 'checkout-bad-deploy'/) });
    expect((await armedRows(second.service))[0]?.state).toBe('lost');
  }, 120_000);

  it.runIf(kind === 'postgres')('a replica running beside the one that armed a scenario neither adopts nor fires it', async () => {
    const first = await start('twin_drill_a', {});
    const second = await start('twin_drill_b', sameDatabase(first));
    expect(await first.slash('ada', '/drill', 'checkout-fast-burn scenario=checkout-bad-deploy')).toMatch(/armed/);
    const [a, b] = [scenarioDrillsOf(first.service.ctx)!, scenarioDrillsOf(second.service.ctx)!];
    first.clock.advance(150_000);
    second.clock.advance(150_000);
    // Both tick, in both orders, while the first holds its lease (renewed on every tick).
    expect(await b.tick()).toBe(0);
    expect(await a.tick()).toBe(0); // fired
    expect(await b.tick()).toBe(0);
    expect(await first.service.ctx.ports.engine.listRuns()).toHaveLength(1);
    expect(await actions(first.service)).toEqual(['drill.scenario.armed', 'drill.scenario.fired']);
  }, 120_000);
});
