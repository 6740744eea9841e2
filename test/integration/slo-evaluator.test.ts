import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditTrail } from '../../src/audit/trail.js';
import { ManualClock } from '../../src/core/clock.js';
import { parseYamlSource } from '../../src/definitions/source.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { RecordingTriggerSink } from '../../src/triggers/sink.js';
import { syntheticCounts } from '../../src/slo/core/synthetic.js';
import { importSlos } from '../../src/slo/definitions.js';
import { SloEvaluator } from '../../src/slo/evaluator.js';
import { sloMetrics } from '../../src/slo/metrics.js';
import { syntheticSource } from '../../src/slo/sources/synthetic.js';
import { createSloStore } from '../../src/slo/store.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';

const M = 60_000;

// Quiet at 0.05% errors, then 50% errors from minute 30 to minute 50 after start.
const sloYaml = `apiVersion: quench/v1
kind: SLO
metadata: { name: drill, labels: { team: sre } }
service: shop
owner: { team: sre, slack: "#sre" }
objective: 99.9
window: 30d
sli:
  synthetic:
    requestsPerSecond: 100
    anchor: start
    script:
      - { at: "0", errorRatio: 0.0005 }
      - { at: 30m, errorRatio: 0.5 }
      - { at: 50m, errorRatio: 0.0005 }
alerting:
  minEvents: 10
  page: { for: 2m, playbook: rollback }
  ticket: { for: "0" }
`;

describe.each(databaseKinds)('SLO evaluator on %s', (kind) => {
  let t: TestDatabase;
  afterEach(async () => t?.dispose());

  it('pages once for a scripted burn, suppresses the ticket meanwhile, recovers, and records everything', async () => {
    t = await freshDatabase(kind);
    const start = new Date('2026-03-02T08:00:00Z');
    const clock = new ManualClock(start);
    const { slos, problems } = importSlos(parseYamlSource('drill.yaml', sloYaml).documents);
    expect(problems).toEqual([]);
    const triggers = new RecordingTriggerSink();
    const audit = createAuditTrail(t.db, clock);
    const metrics = createMetrics();
    const store = createSloStore(t.db);
    const evaluator = new SloEvaluator({
      slos,
      sources: { synthetic: syntheticSource(start) },
      clock,
      logger: silentLogger,
      store,
      audit,
      triggers: () => triggers,
      metrics: sloMetrics(metrics.registry),
      intervalMs: M,
    });
    const changes: string[] = [];
    let previous = { page: 'inactive', ticket: 'inactive' };
    let firingMetric: number | undefined;
    for (let minute = 1; minute <= 90; minute++) {
      clock.advance(M);
      const result = await evaluator.evaluateAll();
      expect(result).toMatchObject({ evaluated: 1, failed: 0 });
      const s = evaluator.get('drill')!;
      for (const sev of ['page', 'ticket'] as const) {
        if (s.alerts[sev].status !== previous[sev]) changes.push(`${minute}m ${sev} ${s.alerts[sev].status}`);
      }
      previous = { page: s.alerts.page.status, ticket: s.alerts.ticket.status };
      if (minute === 40) {
        // Burn rates are exactly the script's ratios over each window ÷ 0.001.
        const now = clock.now().getTime();
        for (const [w, ms] of [
          ['5m', 5 * M],
          ['1h', 60 * M],
          ['6h', 360 * M],
          ['3d', 4320 * M],
        ] as const) {
          const c = syntheticCounts(
            slos[0]!.sli.kind === 'synthetic' ? slos[0]!.sli.script : (undefined as never),
            start.getTime(),
            now - ms,
            now,
          );
          expect(s.burnRates[w]).toBeCloseTo(c.errors / c.total / 0.001, 9);
        }
        expect(s.burnRates['5m']).toBeCloseTo(500, 9);
        const metric = await metrics.registry.getSingleMetric('quench_slo_alert_firing')!.get();
        firingMetric = metric.values.find((v) => v.labels.severity === 'page')?.value;
      }
    }
    // The ticket waits (pending, never firing) behind the page, and fires as the page resolves.
    expect(changes).toEqual(['32m page pending', '34m page firing', '35m ticket pending', '80m page resolved', '80m ticket firing']);
    expect(firingMetric).toBe(1);

    // One burn pages once: one slo.burn for the page, one slo.recovered, then the ticket's burn.
    expect(triggers.events.map((e) => `${e.type} ${e.slo?.severity}`)).toEqual(['slo.burn page', 'slo.recovered page', 'slo.burn ticket']);
    const burn = triggers.events[0]!;
    expect(burn).toMatchObject({
      source: 'slo',
      key: 'slo:drill:page',
      severity: 'critical',
      resolved: false,
      labels: { slo: 'drill', service: 'shop', severity: 'page', playbook: 'rollback', team: 'sre' },
      slo: { name: 'drill', service: 'shop', severity: 'page' },
    });
    expect(burn.annotations.windows).toContain('1h/5m>14.4');
    expect(burn.slo!.budgetRemaining).toBeGreaterThan(0);
    expect(triggers.events[1]).toMatchObject({ type: 'slo.recovered', key: 'slo:drill:page', resolved: true });

    // Every state change is in the audit trail, and the chain verifies.
    const entries = await audit.page({ limit: 100 });
    expect(entries.map((e) => `${e.action} ${e.data.severity}`)).toEqual([
      'slo.alert.pending page',
      'slo.alert.firing page',
      'slo.alert.pending ticket',
      'slo.alert.resolved page',
      'slo.alert.firing ticket',
    ]);
    expect(await audit.verify()).toMatchObject({ ok: true, count: 5 });

    // Samples add up to the script's exact totals over the 90 minutes.
    const stored = await store.attainment('drill', start, new Date(start.getTime() + 91 * M));
    const script = slos[0]!.sli.kind === 'synthetic' ? slos[0]!.sli.script : (undefined as never);
    const exact = syntheticCounts(script, start.getTime(), start.getTime(), start.getTime() + 90 * M);
    expect(stored.total).toBeCloseTo(exact.total, 6);
    expect(stored.errors).toBeCloseTo(exact.errors, 6);

    // Alert states survive a restart: a new evaluator neither re-pages nor forgets the ticket.
    const again = new SloEvaluator({
      slos,
      sources: { synthetic: syntheticSource(start) },
      clock,
      logger: silentLogger,
      store,
      audit,
      triggers: () => triggers,
    });
    clock.advance(M);
    await again.evaluateAll();
    expect(again.get('drill')!.alerts.ticket.status).toBe('firing');
    expect(triggers.events).toHaveLength(3);
  });

  it('down-samples old rows into hourly buckets without losing events', async () => {
    t = await freshDatabase(kind);
    const store = createSloStore(t.db);
    const base = Date.parse('2026-01-01T00:00:00Z');
    const rows = Array.from({ length: 180 }, (_, i) => ({
      slo: 'a',
      at: new Date(base + (i + 1) * M),
      windowStart: new Date(base + i * M),
      resolutionS: 60,
      errors: i % 3,
      total: 100,
      budgetRemaining: 1 - i / 1000,
      burnRate: i / 10,
    }));
    await store.saveSamples(rows);
    const merged = await store.downsample(new Date(base + 10 * 86_400_000));
    expect(merged).toBe(180);
    const history = await store.history('a', new Date(base), new Date(base + 86_400_000));
    // Rows are bucketed by their `at` (window end): the first hour holds the 59 windows ending in it.
    const H = 60 * M;
    expect(history.map((h) => [h.resolutionS, h.total, h.errors])).toEqual([
      [3600, 5900, 58],
      [3600, 6000, 60],
      [3600, 6000, 60],
      [3600, 100, 2],
    ]);
    // Each merged row covers the union of its rows' windows, adjacent like theirs.
    expect(history.map((h) => [h.windowStart.getTime() - base, h.at.getTime() - base])).toEqual([
      [0, H - M],
      [H - M, 2 * H - M],
      [2 * H - M, 3 * H - M],
      [3 * H - M, 3 * H],
    ]);
    const whole = await store.attainment('a', new Date(base), new Date(base + 86_400_000));
    expect([whole.total, whole.errors]).toEqual([18_000, 180]);
    expect(history[2]!.budgetRemaining).toBeCloseTo(1 - 178 / 1000, 5);
    expect(history[2]!.burnRate).toBeCloseTo(17.8, 5);
    expect(await store.downsample(new Date(base + 10 * 86_400_000))).toBe(0);
    const [count] = await t.db.rows<{ n: number }>(sql`select count(*)::int as n from slo_samples`);
    expect(count!.n).toBe(4);
  });
});
