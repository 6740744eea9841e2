import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { SloStatus } from '../../src/slo/core/status.js';
import { type RunningService, startService } from '../../src/service.js';
import { createPostgresDatabase, databaseKinds } from '../support/databases.js';

/**
 * Issue 15: SLO files reload while the service runs, as playbooks do. An edit takes effect at
 * once (changed objective, new and removed SLOs); a broken edit is logged with file:line:col and
 * the previous definitions stay in force; every change is audited.
 */
const slo = (name: string, objective: string, errorRatio = 0.0005) => `apiVersion: quench/v1
kind: SLO
metadata: { name: ${name} }
service: shop
objective: ${objective}
sli:
  synthetic:
    requestsPerSecond: 10
    script: [{ at: "0", errorRatio: ${errorRatio} }]
`;

describe.each(databaseKinds)('SLO hot reload (%s)', (kind) => {
  let dir: string;
  let service: RunningService;
  let base: string;
  let database: { url: string; drop: () => Promise<void> } | undefined;
  const lines: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'quench-slo-reload-'));
    writeFileSync(join(dir, 'shop.yaml'), `${slo('checkout', '99.9')}---\n${slo('search', '99')}`);
    database = kind === 'postgres' ? await createPostgresDatabase() : undefined;
    const config = loadConfig({
      QUENCH_DATA_DIR: 'memory://',
      ...(database ? { DATABASE_URL: database.url } : {}),
      QUENCH_SLO_DIR: dir,
      QUENCH_PLAYBOOK_DIR: dir,
      QUENCH_SLO_EVAL_CRON: '0 0 1 1 *',
    });
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    service = await startService(config, { logger, port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${service.port}`;
  });
  afterAll(async () => {
    await service?.stop();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const slos = async () => ((await (await fetch(`${base}/v1/slos`)).json()) as { slos: SloStatus[] }).slos;
  const until = async (what: string, ok: (list: SloStatus[]) => boolean): Promise<SloStatus[]> => {
    let list: SloStatus[] = [];
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      list = await slos();
      if (ok(list)) return list;
    }
    throw new Error(`${what} did not happen; /v1/slos: ${JSON.stringify(list.map((s) => [s.name, s.objective, s.state]))}`);
  };

  it('an edit changes /v1/slos at once; a broken edit is logged with file:line:col and the previous definitions stay', async () => {
    await until('the first cycle', (l) => l.length === 2 && l.every((s) => s.state === 'ok'));
    expect(service.ctx.ports.slo.get('search')?.objective).toBe(0.99);

    // Change an objective, remove one SLO, add another.
    writeFileSync(join(dir, 'shop.yaml'), `${slo('checkout', '99')}---\n${slo('payments', '99.5', 0.002)}`);
    const after = await until(
      'the reload',
      (l) => l.map((s) => s.name).join() === 'checkout,payments' && l.every((s) => s.state === 'ok') && l[0]!.objective === 0.99,
    );
    // The new objective's figures: 0.05% errors against a 1% budget.
    expect(after[0]!.burnRates['1h']).toBeCloseTo(0.05, 9);
    expect(after[1]!.burnRates['1h']).toBeCloseTo(0.4, 9);
    expect(service.ctx.ports.slo.get('search')).toBeUndefined();
    expect((await fetch(`${base}/v1/slos/search`)).status).toBe(404);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).not.toContain('slo="search"');
    await service.ctx.audit.flush();
    const audited = (await service.ctx.audit.page({ limit: 1000 })).filter((e) => e.action === 'slo.definitions.reloaded');
    expect(audited.map((e) => e.data)).toEqual([{ added: ['payments'], removed: ['search'], changed: ['checkout'] }]);

    // A broken edit (objective 150 on line 5): logged with where, the running definitions stay.
    writeFileSync(join(dir, 'shop.yaml'), `${slo('checkout', '150')}---\n${slo('payments', '99.5', 0.002)}`);
    for (const deadline = Date.now() + 20_000; Date.now() < deadline && !lines.some((l) => String(l.msg).includes('not reloaded')); ) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const logged = lines.find((l) => String(l.msg).includes('SLO definitions not reloaded'));
    expect(logged, JSON.stringify(lines.slice(-5))).toBeDefined();
    expect((logged!.problems as string[]).join('\n')).toMatch(new RegExp(`${join(dir, 'shop.yaml').replace(/[.]/g, '\\.')}:5:\\d+: .*objective`));
    const kept = await slos();
    expect(kept.map((s) => [s.name, s.objective])).toEqual([
      ['checkout', 0.99],
      ['payments', 0.995],
    ]);
    // The same problems are said once, not at every re-read.
    writeFileSync(join(dir, 'shop.yaml'), `${slo('checkout', '150')}---\n${slo('payments', '99.5', 0.002)}`);
    await new Promise((r) => setTimeout(r, 1000));
    expect(lines.filter((l) => String(l.msg).includes('SLO definitions not reloaded'))).toHaveLength(1);
  }, 90_000);

  it('an SLO naming a playbook that is not loaded is reloaded, and the name is logged as a warning with file:line:col', async () => {
    // Playbooks load on their own, so this is a warning (quench validate over both folders refuses it).
    writeFileSync(join(dir, 'shop.yaml'), `${slo('checkout', '99.5')}alerting: { page: { playbook: checkout-rollbak } }\n`);
    await until('the reload', (l) => l.length === 1 && l[0]!.objective === 0.995);
    const logged = lines.find((l) => String(l.msg).includes('SLO definitions have warnings'));
    expect(logged, JSON.stringify(lines.slice(-5))).toBeDefined();
    expect(logged!.problems).toEqual([
      expect.stringMatching(
        new RegExp(`^${join(dir, 'shop.yaml').replace(/[.]/g, '\\.')}:10:\\d+: warning: alerting\\.page\\.playbook: no playbook named checkout-rollbak loaded from `),
      ),
    ]);
  }, 60_000);
});
