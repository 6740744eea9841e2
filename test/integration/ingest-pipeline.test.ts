import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { listDead } from '../../src/ingest/inbox.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';
import { alertmanagerBody, genericBody, pagerdutyBody } from '../support/ingest-webhooks.js';
import { ingestPipeline, testPlaybook } from '../support/ingest-pipeline.js';

// From the inbox to the engine: deduplication, routing, storm control, resolution, and
// exactly-once starts when processing is interrupted at each point.
const checkoutAlert = (fingerprint: string, status: 'firing' | 'resolved' = 'firing', labels: Record<string, string> = {}) => ({
  status,
  fingerprint,
  labels: { alertname: 'HighLatency', service: 'checkout', ...labels },
  ...(status === 'resolved' ? { endsAt: '2026-11-21T19:30:00Z' } : {}),
});

describe.each(databaseKinds)('ingest pipeline on %s', (kind) => {
  let t: TestDatabase;
  afterEach(async () => t?.dispose());

  it('starts the matching run once, ignores resends, and delivers the resolution to it', async () => {
    t = await freshDatabase(kind);
    const p = ingestPipeline(t.db);
    p.store.replace([testPlaybook('checkout-latency', [{ source: 'alertmanager', labels: { service: 'checkout' } }])]);
    const firing = alertmanagerBody([checkoutAlert('fp1')]);
    await p.deliver('alertmanager', firing);
    // A repeat_interval resend: a different body (newer Alertmanagers say why), the same alert.
    const resend = JSON.stringify({ ...JSON.parse(firing), notification_reason: 'repeat_interval' });
    await p.deliver('alertmanager', resend);
    const runs = await p.runs();
    expect(runs).toHaveLength(1);
    expect(runs[0]!.playbook).toBe('checkout-latency');

    await p.deliver('alertmanager', alertmanagerBody([checkoutAlert('fp1', 'resolved')]));
    const signals = await p.signals(runs[0]!.id);
    expect(signals.map((s) => s.type)).toEqual(['alert.resolved']);
    expect(signals[0]!.payload).toMatchObject({ event: { type: 'alert.resolved', key: 'fp1@2026-11-21T19:00:00Z' } });
    expect((await p.events()).map((e) => e.outcome)).toEqual(['started', 'resolved']);
    expect((await p.inbox()).every((r) => r.status === 'done' && r.completions === 1)).toBe(true);
    expect(await p.metrics.registry.metrics()).toMatch(/quench_ingest_dedup_hits_total\{source="alertmanager",level="event"\} 1/);

    // The audit trail ties acceptance, routing and the run start together by correlation id.
    const trail = await p.audit.page({ limit: 100 });
    const routed = trail.find((e) => e.action === 'ingest.routed')!;
    expect(routed.data).toMatchObject({ decision: 'matched', playbook: 'checkout-latency' });
    expect(routed.correlationId).toBe(runs[0]!.correlation_id);
    expect(trail.find((e) => e.action === 'run.started')!.correlationId).toBe(runs[0]!.correlation_id);
    expect(trail.filter((e) => e.action === 'ingest.accepted')).toHaveLength(3);
    expect((await p.audit.verify()).ok).toBe(true);
  });

  it('groups a storm into one run that sees every alert, until the window closes', async () => {
    t = await freshDatabase(kind);
    const p = ingestPipeline(t.db);
    p.store.replace([testPlaybook('checkout-latency', [{ source: 'alertmanager', labels: { service: 'checkout' }, window: '5m' }])]);
    await p.deliver('alertmanager', alertmanagerBody(Array.from({ length: 30 }, (_, i) => checkoutAlert(`s${i}`))));
    p.clock.advance(60_000);
    await p.deliver('alertmanager', alertmanagerBody([checkoutAlert('late')]));
    let runs = await p.runs();
    expect(runs).toHaveLength(1);
    const attached = await p.signals(runs[0]!.id);
    expect(attached.filter((s) => s.type === 'alert.attached')).toHaveLength(30);
    expect(await p.metrics.registry.metrics()).toMatch(/quench_ingest_storm_merges_total\{playbook="checkout-latency"\} 30/);

    // A grouped alert's resolution reaches the run it joined.
    await p.deliver('alertmanager', alertmanagerBody([checkoutAlert('s7', 'resolved')]));
    expect((await p.signals(runs[0]!.id)).at(-1)!.type).toBe('alert.resolved');

    p.clock.advance(5 * 60_000);
    await p.deliver('alertmanager', alertmanagerBody([checkoutAlert('next-storm')]));
    runs = await p.runs();
    expect(runs).toHaveLength(2);
  });

  it('groups by playbook groupBy labels when given', async () => {
    t = await freshDatabase(kind);
    const p = ingestPipeline(t.db);
    p.store.replace([testPlaybook('by-cluster', [{ source: 'alertmanager', groupBy: ['cluster'] }])]);
    const alerts = ['a', 'b', 'a', 'c', 'b'].map((cluster, i) => checkoutAlert(`g${i}`, 'firing', { cluster }));
    await p.deliver('alertmanager', alertmanagerBody(alerts));
    expect(await p.runs()).toHaveLength(3);
  });

  it('routes to the most specific playbook and stores unrouted events', async () => {
    t = await freshDatabase(kind);
    const p = ingestPipeline(t.db);
    p.store.replace([
      testPlaybook('any-alert', [{ source: 'alertmanager' }]),
      testPlaybook('checkout-critical', [{ source: 'alertmanager', labels: { service: 'checkout' }, severity: 'critical' }]),
      testPlaybook('ci-failures', [{ source: 'generic:ci', type: 'deploy.failed' }]),
    ]);
    await p.deliver('alertmanager', alertmanagerBody([checkoutAlert('c1', 'firing', { severity: 'critical' })], 'g1'));
    await p.deliver('alertmanager', alertmanagerBody([checkoutAlert('c2', 'firing', { severity: 'warning' })], 'g2'));
    await p.deliver('generic:ci', genericBody('x1', { type: 'unknown.kind' }));
    expect((await p.runs()).map((r) => r.playbook).sort()).toEqual(['any-alert', 'checkout-critical']);
    expect((await p.events()).map((e) => e.outcome)).toEqual(['started', 'started', 'unrouted']);
    expect(await p.metrics.registry.metrics()).toMatch(/quench_ingest_unrouted_total\{source="generic:ci"\} 1/);
  });

  it('follows a PagerDuty incident: triggered starts, acknowledged is signalled, resolved resolves', async () => {
    t = await freshDatabase(kind);
    const p = ingestPipeline(t.db);
    p.store.replace([testPlaybook('pd-incident', [{ source: 'pagerduty', type: 'incident.triggered' }])]);
    await p.deliver('pagerduty', pagerdutyBody('E1', 'incident.triggered', 'P1'));
    await p.deliver('pagerduty', pagerdutyBody('E2', 'incident.acknowledged', 'P1'));
    await p.deliver('pagerduty', pagerdutyBody('E3', 'incident.resolved', 'P1'));
    const [run, ...others] = await p.runs();
    expect(others).toHaveLength(0);
    expect((await p.signals(run!.id)).map((s) => s.type)).toEqual(['incident.acknowledged', 'alert.resolved']);
  });

  it('takes SLO burns from the trigger port through the same pipeline', async () => {
    t = await freshDatabase(kind);
    const p = ingestPipeline(t.db);
    p.store.replace([testPlaybook('slo-page', [{ source: 'slo', slo: { name: 'checkout-availability', severity: 'page' } }])]);
    const burn = {
      source: 'slo',
      type: 'slo.burn',
      key: 'slo:checkout-availability:page',
      severity: 'critical' as const,
      summary: 'burning',
      labels: { slo: 'checkout-availability' },
      annotations: {},
      occurredAt: new Date('2026-11-21T19:00:00Z'),
      resolved: false,
      slo: { name: 'checkout-availability', severity: 'page' as const, burnRates: { '1h': 15 } },
    };
    await p.sink.emit(burn);
    await p.sink.emit(burn);
    await p.worker.runOnce();
    await p.sink.emit({ ...burn, type: 'slo.recovered', resolved: true, occurredAt: new Date('2026-11-21T19:20:00Z') });
    await p.worker.runOnce();
    const runs = await p.runs();
    expect(runs).toHaveLength(1);
    expect((await p.signals(runs[0]!.id)).map((s) => s.type)).toEqual(['alert.resolved']);
    expect(await p.inbox()).toHaveLength(2);
  });

  it('starts exactly one run when processing dies after the decision or after the engine committed', async () => {
    t = await freshDatabase(kind);
    let failures = 0;
    const p = ingestPipeline(t.db, {
      runs: (real) => ({
        ...real,
        async start(input) {
          // First attempt: die before the engine is called; second: die after it committed.
          if (failures === 0) {
            failures++;
            throw new Error('crash before start');
          }
          const started = await real.start(input);
          if (failures === 1) {
            failures++;
            throw new Error('crash after start');
          }
          return started;
        },
      }),
    });
    p.store.replace([testPlaybook('checkout-latency', [{ source: 'alertmanager' }])]);
    await p.deliver('alertmanager', alertmanagerBody([checkoutAlert('x'), checkoutAlert('y')]));
    expect((await p.inbox())[0]).toMatchObject({ status: 'pending', attempts: 1, last_error: 'crash before start' });
    for (let i = 0; i < 2; i++) {
      p.clock.advance(10 * 60_000);
      await p.worker.runOnce();
    }
    expect((await p.inbox())[0]).toMatchObject({ status: 'done', attempts: 3, completions: 1 });
    const runs = await p.runs();
    expect(runs).toHaveLength(1);
    expect((await p.signals(runs[0]!.id)).map((s) => s.type)).toEqual(['alert.attached']);
    expect((await p.events()).map((e) => [e.outcome, e.run_id])).toEqual([
      ['started', runs[0]!.id],
      ['joined', runs[0]!.id],
    ]);
  });

  it('dead-letters an entry that fails every attempt, and says why', async () => {
    t = await freshDatabase(kind);
    const p = ingestPipeline(t.db, { maxAttempts: 2 });
    p.store.replace([testPlaybook('doomed', [{ source: 'generic:ci' }])]);
    const real = p.store.list();
    // Routing sees the playbook, but it is gone when the run would start.
    const playbooksAtStart = { current: () => undefined };
    Object.assign(p.store, { current: playbooksAtStart.current });
    await p.deliver('generic:ci', genericBody('d1'));
    p.clock.advance(60_000);
    await p.worker.runOnce();
    const [entry] = await p.inbox();
    expect(entry).toMatchObject({ status: 'dead', attempts: 2 });
    expect(entry!.last_error).toMatch(/playbook 'doomed' is not loaded/);
    expect((await listDead(t.db)).map((d) => d.id)).toEqual([entry!.id]);
    expect(real).toHaveLength(1);
    // Entries are chained after their commit (src/audit/ARCHITECTURE.md): chain them before counting by SQL.
    await p.audit.flush();
    const [audit] = await t.db.rows<{ n: number }>(sql`select count(*)::int as n from audit_events where action = 'ingest.dead_lettered'`);
    expect(audit!.n).toBe(1);
    expect(await p.runs()).toHaveLength(0);
  });
});
