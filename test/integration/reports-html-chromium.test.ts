import { createAuditTrail } from '../../src/audit/trail.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { noChat } from '../../src/chat/port.js';
import { computeReport } from '../../src/reports/core/model.js';
import { renderHtml } from '../../src/reports/core/render-html.js';
import { Reports } from '../../src/reports/reports.js';
import { sloSamples } from '../../src/slo/schema.js';
import { engineRuns } from '../../src/engine/schema.js';
import { chatRunThreads } from '../../src/chat/schema.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { freshDatabase, type TestDatabase } from '../support/databases.js';
import { reportFacts } from '../support/report-facts.js';

/** The HTML report in headless Chromium (Debian's /usr/bin/chromium): its inline SVG charts render. */
const H = 3600_000;
const FROM = Date.parse('2026-11-23T09:00:00Z');
const TO = FROM + 7 * 24 * H;
const ARTIFACTS = resolve('test-artifacts');
const BROWSER_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

describe('HTML report in headless Chromium', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await freshDatabase('pglite');
    const rows = [];
    for (let h = 1; h <= 7 * 24; h++) {
      rows.push({ slo: 'checkout-availability', at: new Date(FROM + h * H), windowStart: new Date(FROM + (h - 1) * H), resolutionS: 3600, errors: h % 4, total: 1000, budgetRemaining: 0.95 - h / 400, burnRate: (h % 9) / 3 });
    }
    await tdb.db.orm.insert(sloSamples).values(rows);
    await tdb.db.orm.insert(engineRuns).values({ id: 'r1', playbook: 'checkout', playbookHash: 'h', definition: {}, state: 'succeeded', inputs: {}, correlationId: 'r1', startedBy: 'seed', createdAt: new Date(FROM + H), updatedAt: new Date(FROM + 2 * H), endedAt: new Date(FROM + 2 * H) });
    await tdb.db.orm.insert(chatRunThreads).values({ runId: 'r1', channel: 'C', ts: '1', acknowledgedBy: 'ada', acknowledgedAt: new Date(FROM + H + 90_000), updatedAt: new Date(FROM + H) });
  }, 300_000);
  afterAll(async () => {
    await tdb?.dispose();
  });

  it('renders the budget, burn-rate and response-time charts with non-zero boxes', async () => {
    const reports = new Reports({
      db: tdb.db,
      clock: new ManualClock(TO + H),
      logger: createLogger('silent', 'stderr'),
      audit: createAuditTrail(tdb.db, new ManualClock(TO + H)),
      slos: () => [{ name: 'checkout-availability', service: 'checkout', objective: 0.999, window: '28d', windowMs: 28 * 24 * H }],
      chat: () => noChat,
      channel: undefined,
      who: 'test',
    });
    const { report } = await reports.produce(new Date(FROM), new Date(TO), 'on_demand');
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = join(ARTIFACTS, 'weekly-report.html');
    writeFileSync(file, renderHtml(report));
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: BROWSER_ARGS,
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
      const outside: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith('file:')) outside.push(r.url());
      });
      await page.goto(pathToFileURL(file).href);
      for (const id of ['budget-0', 'burn-0', 'response-times']) {
        const box = await page.locator(`svg#${id}`).boundingBox();
        expect(box, id).not.toBeNull();
        expect(box!.width).toBeGreaterThan(0);
        expect(box!.height).toBeGreaterThan(0);
      }
      // The budget and burn lines are drawn (one point per stored evaluation), the bars too.
      for (const id of ['budget-0', 'burn-0']) {
        const line = await page.locator(`svg#${id} polyline`).boundingBox();
        expect(line!.width).toBeGreaterThan(100);
        const points = await page.locator(`svg#${id} polyline`).getAttribute('points');
        expect(points!.trim().split(/\s+/)).toHaveLength(7 * 24);
      }
      const bars = await page.locator('svg#response-times rect').evaluateAll((els) => els.map((e) => (e as unknown as { getBBox(): { width: number } }).getBBox().width));
      expect(bars.filter((w) => w > 0).length).toBeGreaterThanOrEqual(4);
      expect(outside).toEqual([]);
      await page.screenshot({ path: join(ARTIFACTS, 'weekly-report.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  }, 300_000);
  it('shows names from SLO and playbook files as their literal text: no element, script or entity from them', async () => {
    const names = ['<img src=x onerror="document.title=\'pwned\'">', '<script>document.title="pwned"</script>', 'a & b &amp; "c" \'d\'', '<!channel> <b>bold</b>'];
    const report = computeReport(
      reportFacts({
        period: { start: FROM, end: TO },
        slos: names.map((name) => ({ name, service: `svc ${name}`, objective: 0.99, window: 'calendar month (<i>Z</i>)', windowMs: 28 * 24 * H })),
        samples: names.map((name) => ({ slo: name, at: FROM + H, errors: 1, total: 100, budgetRemaining: 0.5, burnRate: 1 })),
        runs: [{ id: 'r1', playbook: '<img src=y>', drill: false, state: 'succeeded', createdAt: FROM + H, endedAt: FROM + 2 * H, acknowledgedAt: null, steps: [] }],
      }),
      TO + H,
    );
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = join(ARTIFACTS, 'weekly-report-hostile.html');
    writeFileSync(file, renderHtml(report));
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: BROWSER_ARGS });
    try {
      const page = await browser.newPage();
      const dialogs: string[] = [];
      page.on('dialog', (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      await page.goto(pathToFileURL(file).href);
      expect(await page.title()).toMatch(/^Weekly SLO report /);
      const headings = await page.locator('section h2').allTextContents();
      expect(headings.slice(0, names.length)).toEqual(names.map((n) => `${n} svc ${n}`));
      expect(await page.locator('section th').allTextContents()).toContain('Attainment (calendar month (<i>Z</i>))');
      expect(await page.locator('tr', { hasText: 'Runs started' }).locator('td').textContent()).toBe('<img src=y> 1');
      expect(await page.locator('img, script, b, i').count()).toBe(0);
      expect(dialogs).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 300_000);
});
