import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ManualClock } from '../../src/core/clock.js';
import { openDatabase } from '../../src/db/database.js';
import { computeReport } from '../../src/reports/core/model.js';
import { renderSlack } from '../../src/reports/core/render-slack.js';
import { reportPeriods } from '../../src/reports/schema.js';
import { claimPeriod, markPosted, saveReport } from '../../src/reports/store.js';
import { startService } from '../../src/service.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { startFakeSlack } from '../support/fake-slack.js';
import { reportFacts } from '../support/report-facts.js';
import { waitFor } from '../support/wait-for.js';
import { baseEnv, folderWith, syntheticSlo } from './service-harness.js';

/**
 * The service's own wiring of the posting retry and catch-up (reports/capability.ts): a
 * scheduled report stored but never posted (its replica died right after storing it, on this
 * PGlite data folder) is posted by the next start of the service, once, without waiting for the
 * next week's cron; a week missed while the service was down is caught up in the background,
 * the start not waiting for Slack.
 */
const H = 3600_000;
const TO = Date.parse('2026-11-30T09:00:00Z');
const FROM = TO - 7 * 24 * H;
const data = mkdtempSync(join(tmpdir(), 'quench-report-restart-'));
const missedData = mkdtempSync(join(tmpdir(), 'quench-report-catch-up-'));
const dir = folderWith('quench-report-restart-slo-', { 'shop.yaml': syntheticSlo({ name: 'shop-availability', service: 'shop', sli: '    script:\n      - { at: "0", errorRatio: 0.001 }' }) });

afterAll(() => {
  rmSync(data, { recursive: true, force: true });
  rmSync(missedData, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

it('a scheduled report its replica stored but never posted is posted at the next start', async () => {
  const report = computeReport(reportFacts({ period: { start: FROM, end: TO }, slos: [] }), TO + 1_000);
  const db = await openDatabase({ dataDir: data });
  await db.migrate();
  await claimPeriod(db, new Date(FROM), new Date(TO), 'replica-dead', 'scheduled', new Date(TO + 1_000), 'injected');
  await saveReport(db, new Date(FROM), new Date(TO), report, new Date(TO + 1_000), 'injected', { by: 'replica-dead', held: true });
  await db.close();

  const slack = await startFakeSlack();
  // Started after the dead replica's posting lease ran out.
  const clock = new ManualClock(TO + 10 * 60_000);
  const config = loadConfig({ QUENCH_DATA_DIR: data, ...baseEnv({ dir, slack }), QUENCH_REPORT_CHANNEL: 'C-REPORTS' });
  const service = await startService(config, { logger: silentLogger, clock, port: 0, host: '127.0.0.1' });
  try {
    // Well before the first minute's tick: the start itself looks.
    await waitFor('the stored report posted', async () => (await service.ctx.db.orm.select().from(reportPeriods)).some((r) => r.postedAt !== null), 30_000);
    const posted = slack.messages.filter((m) => m.channel === 'C-REPORTS');
    expect(posted.map((m) => m.text)).toEqual(renderSlack(report).map((m) => m.text));
  } finally {
    await service.stop();
    await slack.close();
  }
}, 120_000);

it('a week missed while down is caught up in the background: the service starts and is ready while Slack holds the catch-up post', async () => {
  // The week before was scheduled and posted; the service was down at TO's cron minute.
  const db = await openDatabase({ dataDir: missedData });
  await db.migrate();
  const before = computeReport(reportFacts({ period: { start: FROM - 7 * 24 * H, end: FROM }, slos: [] }), FROM + 1_000);
  await claimPeriod(db, new Date(FROM - 7 * 24 * H), new Date(FROM), 'replica-a', 'scheduled', new Date(FROM + 1_000), 'injected');
  await saveReport(db, new Date(FROM - 7 * 24 * H), new Date(FROM), before, new Date(FROM + 1_000), 'injected', { by: 'replica-a', held: true });
  await markPosted(db, new Date(FROM - 7 * 24 * H), new Date(FROM), new Date(FROM + 2_000));
  await db.close();

  const slack = await startFakeSlack();
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let tried = false;
  // Slack takes every message and answers none until released (the WebClient has no timeout).
  slack.holdWhen('chat.postMessage', () => {
    tried = true;
    return held;
  });
  const config = loadConfig({ QUENCH_DATA_DIR: missedData, ...baseEnv({ dir, slack }), QUENCH_REPORT_CHANNEL: 'C-REPORTS' });
  const starting = startService(config, { logger: silentLogger, clock: new ManualClock(TO + H), port: 0, host: '127.0.0.1' });
  const started = await Promise.race([starting, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 90_000))]);
  try {
    expect(started, 'the service started while Slack held the catch-up post').toBeDefined();
    expect((await fetch(`http://127.0.0.1:${started!.port}/readyz`)).status).toBe(200);
    await waitFor('the catch-up post sent to Slack', async () => tried);
    const missed = async () => (await started!.ctx.db.orm.select().from(reportPeriods)).find((r) => r.periodEnd.getTime() === TO);
    expect((await missed())?.postedAt).toBeNull();
    release();
    await waitFor('the missed week posted', async () => (await missed())?.postedAt, 30_000);
    const report = (await missed())!.report as Parameters<typeof renderSlack>[0];
    expect(slack.messages.filter((m) => m.channel === 'C-REPORTS').map((m) => m.text)).toEqual(renderSlack(report).map((m) => m.text));
  } finally {
    release();
    await (await starting).stop();
    await slack.close();
  }
}, 240_000);
