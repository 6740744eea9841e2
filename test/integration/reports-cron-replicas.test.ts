import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ManualClock } from '../../src/core/clock.js';
import { reportPeriods } from '../../src/reports/schema.js';
import { type RunningService, startService } from '../../src/service.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { type FakeSlack, startFakeSlack } from '../support/fake-slack.js';
import { createPostgresDatabase, TEST_DATABASE_URL } from '../support/databases.js';
import { waitFor } from '../support/wait-for.js';
import { baseEnv, folderWith, syntheticSlo } from './service-harness.js';

/**
 * Two replicas on one PostgreSQL database, the real node-cron schedule firing every second
 * (each firing twice or more in the same minute of the injected clock): one stored report for
 * the week, posted once. PostgreSQL only: replicas need a shared server.
 */
const slo = syntheticSlo({
  name: 'shop-availability',
  service: 'shop',
  sli: `    script:
      - { at: "0", errorRatio: 0.001 }`,
});
const NOW = Date.parse('2026-03-09T09:00:20.000Z');

describe.skipIf(!TEST_DATABASE_URL)('report cron on two replicas (PostgreSQL)', () => {
  let dir: string;
  const services: RunningService[] = [];
  let slack: FakeSlack;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    dir = folderWith('quench-report-cron-', { 'shop.yaml': slo });
    slack = await startFakeSlack();
    const pg = await createPostgresDatabase('quench_report_cron');
    drop = pg.drop;
    for (let i = 0; i < 2; i++) {
      const config = loadConfig({
        DATABASE_URL: pg.url,
        ...baseEnv({ dir, slack, playbooks: true }),
        QUENCH_REPORT_CRON: '* * * * * *',
        QUENCH_REPORT_CHANNEL: 'C-REPORTS',
      });
      services.push(await startService(config, { logger: silentLogger, clock: new ManualClock(NOW), port: 0, host: '127.0.0.1' }));
    }
  }, 300_000);
  afterAll(async () => {
    for (const s of services) await s.stop();
    await slack?.close();
    await drop?.();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fires many times on both replicas and produces one report, posted once', async () => {
    const db = services[0]!.ctx.db;
    await waitFor('the scheduled report posted', async () => (await db.orm.select().from(reportPeriods)).some((r) => r.postedAt !== null));
    // Let both schedules fire a few more times in the same (injected) minute.
    await new Promise((r) => setTimeout(r, 3_500));
    const rows = await db.orm.select().from(reportPeriods);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.periodEnd.toISOString()).toBe('2026-03-09T09:00:00.000Z');
    expect(rows[0]!.periodStart.toISOString()).toBe('2026-03-02T09:00:00.000Z');
    expect(slack.messages.filter((m) => m.channel === 'C-REPORTS')).toHaveLength(1);
  }, 300_000);
});
