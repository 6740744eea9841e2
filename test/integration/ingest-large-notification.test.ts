import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { type RunningService, startService } from '../../src/service.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { waitFor } from '../support/wait-for.js';
import { ManualClock } from '../../src/core/clock.js';
import { claimDue, failDelivery, insertDelivery } from '../../src/ingest/inbox.js';
import { DECISION_EVENTS, type ProcessorDeps, processDelivery } from '../../src/ingest/processor.js';
import type { RunPort } from '../../src/ingest/runs.js';
import { freshDatabase, type TestDatabase } from '../support/databases.js';
import { alertmanagerBody } from '../support/ingest-webhooks.js';
import { processorDeps, testPlaybook } from '../support/ingest-pipeline.js';

/**
 * One Alertmanager notification may hold hundreds of alerts (a node down takes every pod's
 * alert with it; max_alerts is unlimited by default). PGlite runs each statement synchronously
 * in the process, so processing such a delivery as one unbroken chain of promises answered no
 * request at all until it was done: found by sweeping a live `quench serve` on PGlite, where a
 * 1,000-alert notification held every answer, /healthz included, for 40 to 53 s.
 */
const ALERTS = 100;
const playbook = testPlaybook('node-down', [{ source: 'alertmanager', labels: { alertname: 'NodeDown' } }]);

describe('a notification of hundreds of alerts on PGlite', () => {
  let t: TestDatabase;
  afterEach(async () => t?.dispose());

  it('leaves the event loop turns to answer requests while it is decided and its effects run', async () => {
    t = await freshDatabase('pglite');
    const clock = new ManualClock('2026-11-21T19:00:00Z');
    const started: string[] = [];
    let signals = 0;
    const runs: RunPort = {
      findRun: async (handle) => (started.includes(handle) ? `run-${handle}` : undefined),
      start: async ({ correlationId }) => {
        started.push(correlationId);
        return { runId: `run-${correlationId}` };
      },
      signal: async () => void signals++,
    };
    const deps = processorDeps(t.db, clock, runs, () => [playbook.definition]);
    const alerts = Array.from({ length: ALERTS }, (_, i) => ({ labels: { alertname: 'NodeDown', pod: `pod-${i}` }, fingerprint: `fp${i}` }));
    await insertDelivery(t.db, { source: 'alertmanager', deliveryKey: 'big', receivedAt: clock.now(), headers: {}, body: alertmanagerBody(alerts, '{}:{alertname="NodeDown"}') });
    const [row] = await claimDue(t.db, clock.now(), 60_000, 1);

    // What a request needs: turns of the event loop while the delivery is processed.
    let turns = 0;
    let ticking = true;
    const tick = () => {
      if (!ticking) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    const result = await processDelivery(deps, row!);
    ticking = false;

    expect(result.events).toBe(ALERTS);
    expect(started).toHaveLength(1);
    expect(signals).toBe(ALERTS - 1); // every other alert joined the run: alert.attached
    // At least a turn per effect carried out (one per alert), and one per 25 events decided after the first 25.
    expect(turns).toBeGreaterThanOrEqual(ALERTS + Math.floor((ALERTS - 1) / 25));
  });
});

/**
 * A decision in slices is no longer all-or-nothing: a failure (or a lost lease) after some
 * slices committed leaves their events decided, with their effects in the outbox. The retry
 * decides the rest, and what was decided stays decided once: one run, every other alert
 * joined, the delivery accepted once in the audit trail.
 */
describe('a sliced decision that fails half-way', () => {
  let t: TestDatabase;
  afterEach(async () => t?.dispose());

  it('is finished by the retry without deciding anything twice', async () => {
    t = await freshDatabase('pglite');
    const clock = new ManualClock('2026-11-21T19:00:00Z');
    const n = DECISION_EVENTS.pglite * 3;
    const started: string[] = [];
    const signalled = new Set<string>();
    const runs: RunPort = {
      findRun: async (handle) => (started.includes(handle) ? `run-${handle}` : undefined),
      start: async ({ correlationId }) => {
        started.push(correlationId);
        return { runId: `run-${correlationId}` };
      },
      signal: async (_run, _type, _payload, key) => void signalled.add(key),
    };
    let routed = 0;
    const deps = (failAt?: number): ProcessorDeps =>
      // Routing reads the playbooks once per new firing: the first attempt fails in its second slice.
      processorDeps(t.db, clock, runs, () => {
        if (++routed === failAt) throw new Error('the playbook store is away');
        return [playbook.definition];
      });
    const alerts = Array.from({ length: n }, (_, i) => ({ labels: { alertname: 'NodeDown', pod: `pod-${i}` }, fingerprint: `fp${i}` }));
    await insertDelivery(t.db, { source: 'alertmanager', deliveryKey: 'half', receivedAt: clock.now(), headers: {}, body: alertmanagerBody(alerts, '{}:{alertname="NodeDown"}') });
    const [first] = await claimDue(t.db, clock.now(), 60_000, 1);
    await expect(processDelivery(deps(DECISION_EVENTS.pglite + 5), first!)).rejects.toThrow('the playbook store is away');
    const count = async (where: string) => Number((await t.db.rows<{ n: number }>(sql.raw(`select count(*)::int as n from ${where}`)))[0]!.n);
    expect(await count('ingest_events')).toBe(DECISION_EVENTS.pglite);

    await failDelivery(t.db, first!, 'the playbook store is away', clock.now());
    const [retry] = await claimDue(t.db, clock.now(), 60_000, 1);
    expect(retry!.attempts).toBe(2);
    const result = await processDelivery(deps(), retry!);
    expect(result.outcomes).toEqual({ duplicate: DECISION_EVENTS.pglite, joined: n - DECISION_EVENTS.pglite });

    const outcomes = await t.db.rows<{ outcome: string; n: number }>(sql`select outcome, count(*)::int as n from ingest_events group by outcome order by outcome`);
    expect(outcomes.map((o) => [o.outcome, Number(o.n)])).toEqual([
      ['joined', n - 1],
      ['started', 1],
    ]);
    expect(started).toHaveLength(1);
    expect(signalled.size).toBe(n - 1);
    expect(await count("ingest_inbox where status = 'done'")).toBe(1);
    const accepted = `action = 'ingest.accepted' and subject_id = '${retry!.id}'`;
    expect((await count(`audit_outbox where ${accepted}`)) + (await count(`audit_events where ${accepted}`))).toBe(1);
  });
});

/**
 * The same over HTTP, on a live service: the yields above gave the event loop turns, but the
 * decision was ONE transaction, and PGlite has one connection, so every request that needs the
 * database (/readyz, another webhook's insert) waited for all 1,000 alerts to be decided:
 * about 8 s on an idle machine. Decisions now commit in slices (DECISION_EVENTS), and the
 * requests waiting go between them. Nothing is lost: every alert of the notification is an
 * event, all but the first join its run.
 */
describe('a 1,000-alert notification to quench serve on PGlite', () => {
  let service: RunningService | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await service?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps /readyz and other webhooks answered while it is decided, a slice at a time, and loses no alert', async () => {
    dir = mkdtempSync(join(tmpdir(), 'quench-large-'));
    writeFileSync(
      join(dir, 'node-down.yaml'),
      `apiVersion: quench/v1
kind: Playbook
metadata: { name: node-down, owner: test }
triggers:
  - { source: alertmanager, labels: { alertname: NodeDown } }
steps:
  - { id: note, kind: action, action: log, params: { message: hello } }
`,
    );
    const config = loadConfig({ QUENCH_DATA_DIR: 'memory://', QUENCH_PLAYBOOK_DIR: dir, QUENCH_SLO_DIR: join(dir, 'none') });
    service = await startService(config, { logger: silentLogger, port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${service.port}`;
    const db = service.ctx.db;
    const n = 1_000;
    const alerts = Array.from({ length: n }, (_, i) => ({ labels: { alertname: 'NodeDown', pod: `pod-${i}` }, fingerprint: `big${i}` }));
    const post = (body: string) => fetch(`${base}/webhooks/alertmanager`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect((await post(alertmanagerBody(alerts, '{}:{alertname="NodeDown"}'))).status).toBe(202);

    const events = async () => Number((await db.rows<{ n: number }>(sql`select count(*)::int as n from ingest_events where source = 'alertmanager'`))[0]!.n);
    const timed = async (f: () => Promise<Response>) => {
      const t0 = performance.now();
      const res = await f();
      await res.arrayBuffer();
      return { ms: performance.now() - t0, status: res.status };
    };
    // Probe while the notification is being decided (its events appear a slice at a time).
    const slowest = { readyz: 0, webhook: 0 };
    let probes = 0;
    for (let i = 0; (await events()) < n; i++) {
      const ready = await timed(() => fetch(`${base}/readyz`));
      const hook = await timed(() => post(alertmanagerBody([{ labels: { alertname: 'Other', i: String(i) }, fingerprint: `small${i}` }], `{}:{i="${i}"}`)));
      expect(ready.status).toBe(200);
      expect(hook.status).toBe(202);
      slowest.readyz = Math.max(slowest.readyz, ready.ms);
      slowest.webhook = Math.max(slowest.webhook, hook.ms);
      probes++;
      await new Promise((r) => setTimeout(r, 20));
    }
    // Unsliced, not one probe got through before the whole decision committed (8 s idle, 18-23 s
    // at a load of 10 on 2 cores). Sliced: 150-700 ms at that load, the first (while the
    // notification is parsed) up to 1.6 s; bounds generous for a loaded machine.
    expect(probes).toBeGreaterThan(2);
    expect(slowest.readyz).toBeLessThan(2_500);
    expect(slowest.webhook).toBeLessThan(2_500);

    await waitFor('the notification to be processed', async () => Number((await db.rows<{ n: number }>(sql`select count(*)::int as n from ingest_inbox where status <> 'done'`))[0]!.n) === 0, 120_000);
    const outcomes = await db.rows<{ outcome: string; n: number }>(
      sql`select outcome, count(*)::int as n from ingest_events where dedup_key like 'big%' group by outcome order by outcome`,
    );
    expect(outcomes.map((o) => [o.outcome, Number(o.n)])).toEqual([
      ['joined', n - 1],
      ['started', 1],
    ]);
  }, 180_000);
});
