import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { percent } from '../../src/reports/core/format.js';
import type { Report } from '../../src/reports/core/model.js';
import { sloSamples } from '../../src/slo/schema.js';
import type { RunningService } from '../../src/service.js';
import type { FakeSlack } from '../support/fake-slack.js';
import { databaseKinds } from '../support/databases.js';
import { cliWith, evaluateAt, type ServiceHarness, startServiceHarness, syntheticSlo } from './service-harness.js';

/**
 * The report through the service: GET /v1/reports in each format, `quench report` beside the
 * service (same numbers), `--post` to the report channel and the owning team's channel, and
 * bad input refused with the JSON error shape. The SLO is evaluated by the real evaluator on
 * the synthetic source, so the report reads the samples it stored.
 */
const slo = syntheticSlo({
  name: 'shop-availability',
  service: 'shop',
  owner: 'C-SHOP',
  sli: `    anchor: start
    script:
      - { at: "0", errorRatio: 0 }
      - { at: 2h, errorRatio: 0.01 }
      - { at: 4h, errorRatio: 0 }`,
});
const T0 = Date.parse('2026-03-02T08:00:00.000Z');
const H = 3600_000;
const token = 'alice-token-0123456789abcdefghijklmnop';

describe.each(databaseKinds)('reports in the service on %s', (kind) => {
  let h: ServiceHarness;
  let service: RunningService;
  let base: string;
  let slack: FakeSlack;
  const clock = new ManualClock(T0);

  beforeAll(async () => {
    h = await startServiceHarness({ kind, name: 'reports', files: { 'shop.yaml': slo }, clock, tokens: { alice: token }, playbooks: true, env: { QUENCH_REPORT_CHANNEL: 'C-REPORTS' } });
    ({ service, base, slack } = h);
    for (let m = 10; m <= 6 * 60; m += 10) await evaluateAt(service, clock, T0 + m * 60_000);
  }, 300_000);
  afterAll(async () => {
    await h?.stop();
  });

  const get = (path: string) => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const cli = (args: string[]) => cliWith(args, { QUENCH_URL: base, QUENCH_TOKEN: token });
  const from = new Date(T0).toISOString();
  const to = new Date(T0 + 6 * H).toISOString();

  it('GET /v1/reports reads the stored samples; Markdown, HTML and the CLI show the same attainment', async () => {
    clock.set(T0 + 7 * H);
    const res = await get(`/v1/reports?from=${from}&to=${to}&format=json`);
    expect(res.status).toBe(200);
    const report = (await res.json()) as Report;
    const stored = (await service.ctx.db.orm.select().from(sloSamples)).filter((s) => s.at.getTime() > T0 && s.at.getTime() <= T0 + 6 * H);
    const errors = stored.reduce((n, s) => n + s.errors, 0);
    const total = stored.reduce((n, s) => n + s.total, 0);
    expect(errors).toBeGreaterThan(0);
    const shop = report.slos.find((s) => s.slo === 'shop-availability')!;
    expect(shop.service).toBe('shop');
    expect(shop.attainment).toBeCloseTo(1 - errors / total, 12);
    expect(shop.burnDown).toHaveLength(stored.length);
    const md = await get(`/v1/reports?from=${from}&to=${to}&format=md`);
    expect(md.headers.get('content-type')).toContain('text/markdown');
    expect(await md.text()).toContain(percent(shop.attainment));
    const html = await get(`/v1/reports?from=${from}&to=${to}&format=html`);
    expect(html.headers.get('content-type')).toContain('text/html');
    expect(await html.text()).toContain(percent(shop.attainment));
    const out = await cli(['report', '--from', from, '--to', to, '--format', 'md']);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(percent(shop.attainment));
  }, 300_000);

  it('--post sends the report to QUENCH_REPORT_CHANNEL and the owning team channel', async () => {
    const out = await cli(['report', '--from', from, '--to', to, '--post']);
    expect(out.code).toBe(0);
    const report = JSON.parse(out.stdout) as Report;
    const channels = slack.messages.map((m) => m.channel);
    expect(channels).toContain('C-REPORTS');
    expect(channels).toContain('C-SHOP');
    const posted = slack.messages.find((m) => m.channel === 'C-SHOP')!;
    expect(JSON.stringify(posted.blocks)).toContain(percent(report.slos[0]!.attainment));
  }, 300_000);

  it('refuses bad input with the JSON error shape and a non-zero exit', async () => {
    for (const q of ['format=xml', `from=${to}&to=${from}`, 'from=yesterday']) {
      const res = await get(`/v1/reports?${q}`);
      expect(res.status, q).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe('bad_request');
    }
    const out = await cli(['report', '--format', 'pdf']);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('format must be one of json, md, html');
    // A date JavaScript would roll over, and a time the service would read in its own zone.
    for (const [path, says] of [
      ['/v1/reports?from=2026-02-30', "from '2026-02-30' is not a calendar date: February 2026 has 28 days"],
      ['/v1/reports?from=2026-03-01&to=2026-03-02T10:00:00', "to '2026-03-02T10:00:00' has no time zone"],
    ] as const) {
      const res = await get(path);
      expect(res.status, path).toBe(400);
      const body = (await res.json()) as { error: string; message: string };
      expect(body.error).toBe('bad_request');
      expect(body.message).toContain(says);
    }
    const post = await fetch(`${base}/v1/reports/post?to=2026-04-31`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(post.status).toBe(400);
    expect(((await post.json()) as { message: string }).message).toContain("to '2026-04-31' is not a calendar date: April 2026 has 30 days");
  }, 300_000);
});
