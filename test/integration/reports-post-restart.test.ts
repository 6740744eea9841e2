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
import { claimPeriod, saveReport } from '../../src/reports/store.js';
import { startService } from '../../src/service.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { startFakeSlack } from '../support/fake-slack.js';
import { reportFacts } from '../support/report-facts.js';
import { waitFor } from '../support/wait-for.js';
import { baseEnv, folderWith, syntheticSlo } from './service-harness.js';

/**
 * The service's own wiring of the posting retry (reports/capability.ts): a scheduled report
 * stored but never posted (its replica died right after storing it, on this PGlite data folder)
 * is posted by the next start of the service, once, without waiting for the next week's cron.
 */
const H = 3600_000;
const TO = Date.parse('2026-11-30T09:00:00Z');
const FROM = TO - 7 * 24 * H;
const data = mkdtempSync(join(tmpdir(), 'quench-report-restart-'));
const dir = folderWith('quench-report-restart-slo-', { 'shop.yaml': syntheticSlo({ name: 'shop-availability', service: 'shop', sli: '    script:\n      - { at: "0", errorRatio: 0.001 }' }) });

afterAll(() => {
  rmSync(data, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

it('a scheduled report its replica stored but never posted is posted at the next start', async () => {
  const report = computeReport(reportFacts({ period: { start: FROM, end: TO }, slos: [] }), TO + 1_000);
  const db = await openDatabase({ dataDir: data });
  await db.migrate();
  await claimPeriod(db, new Date(FROM), new Date(TO), 'replica-dead', 'scheduled', new Date(TO + 1_000));
  await saveReport(db, new Date(FROM), new Date(TO), report, new Date(TO + 1_000), 'replica-dead');
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
