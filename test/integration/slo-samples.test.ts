import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { parseYamlSource } from '../../src/definitions/source.js';
import { importSlos } from '../../src/slo/definitions.js';
import { SloEvaluator } from '../../src/slo/evaluator.js';
import { PrometheusClient } from '../../src/slo/sources/prometheus-client.js';
import { prometheusSource } from '../../src/slo/sources/prometheus.js';
import { syntheticSource } from '../../src/slo/sources/synthetic.js';
import { createSloStore } from '../../src/slo/store.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';
import type { PeerDaemon } from '../support/peer-daemon.js';
import { backfillAvailable, openMetrics, startBackfilledPrometheus } from '../support/prometheus-backfill.js';
import type { Series } from '../support/slo-model.js';

/**
 * Issue 11 §11: `slo_samples` rows must add up even when the schedule (30 s here) is shorter
 * than two scrapes (60 s here). Before, each row was the rate over the 30 s since the previous
 * evaluation, which holds one scrape and has no rate: the rows summed to almost nothing.
 */
const S = 1000;
const M = 60 * S;
const H = 60 * M;
const END = Date.UTC(2026, 10, 1, 12); // long before "now": backfill-safe
const START = END - 4 * H;
const FROM = END - 2 * H;
const TO = END - H;

/** 20 requests/s scraped every 60 s (7 s off the minute); 2% errors, 40% from 30 to 40 minutes into the hour. */
function generate(): Series[] {
  const ok: Series = { labels: { job: 'shop', code: '200' }, t: [], v: [] };
  const bad: Series = { labels: { job: 'shop', code: '500' }, t: [], v: [] };
  let okCount = 0;
  let badCount = 0;
  for (let t = START + 7 * S, prev = t; t <= END; prev = t, t += M) {
    const e = prev >= FROM + 30 * M && prev < FROM + 40 * M ? 0.4 : 0.02;
    okCount += (20 * (t - prev) * (1 - e)) / 1000;
    badCount += (20 * (t - prev) * e) / 1000;
    ok.t.push(t);
    ok.v.push(okCount);
    bad.t.push(t);
    bad.v.push(badCount);
  }
  return [ok, bad];
}

const sloYaml = `apiVersion: quench/v1
kind: SLO
metadata: { name: occurrences }
service: shop
objective: 99
window: 7d
sli:
  events:
    errorQuery: 'sum(rate(http_requests_total{job="shop",code="500"}[{{window}}]))'
    totalQuery: 'sum(rate(http_requests_total{job="shop"}[{{window}}]))'
---
apiVersion: quench/v1
kind: SLO
metadata: { name: slices }
service: shop
objective: 99
window: 7d
budgeting: { method: timeslices, sliceLength: 1m, sliceTarget: 95 }
sli:
  scrapeInterval: 60s
  events:
    errorQuery: 'sum(rate(http_requests_total{job="shop",code="500"}[{{window}}]))'
    totalQuery: 'sum(rate(http_requests_total{job="shop"}[{{window}}]))'
`;

describe.skipIf(!backfillAvailable)('slo_samples on a schedule shorter than two scrapes', () => {
  let prometheus: PeerDaemon;
  let client: PrometheusClient;
  const { slos, problems } = importSlos(parseYamlSource('samples.yaml', sloYaml).documents);

  beforeAll(async () => {
    expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
    prometheus = await startBackfilledPrometheus(openMetrics('http_requests', generate()));
    client = new PrometheusClient({ baseUrl: prometheus.url, timeoutMs: 300_000, retries: 1 });
  }, 180_000);

  afterAll(async () => {
    await prometheus?.stop();
  });

  describe.each(databaseKinds)('on %s', (kind) => {
    let t: TestDatabase;
    afterEach(async () => t?.dispose());

    it('stored rows add up to Prometheus’ increase and to the generated events over the hour', async () => {
      t = await freshDatabase(kind);
      const store = createSloStore(t.db);
      const clock = new ManualClock(new Date(FROM));
      const source = prometheusSource(client);
      const evaluator = new SloEvaluator({
        slos,
        sources: { prometheus: source, synthetic: syntheticSource(new Date(FROM)) },
        clock,
        logger: silentLogger,
        store,
        intervalMs: 30 * S,
        timeoutMs: 300_000,
      });
      for (let now = FROM; now <= TO; now += 30 * S) {
        clock.set(new Date(now));
        expect((await evaluator.evaluateAll()).failed).toBe(0);
      }

      for (const slo of slos) {
        const rows = await store.history(slo.name, new Date(FROM), new Date(TO + 1));
        // Adjacent windows (one per 30 s evaluation), the first read over two scrapes.
        for (let i = 1; i < rows.length; i++) expect(rows[i]!.windowStart.getTime()).toBe(rows[i - 1]!.at.getTime());
        expect(rows[0]!.at.getTime() - rows[0]!.windowStart.getTime()).toBe(2 * M);
        expect(rows).toHaveLength(121);
        const first = rows[0]!.windowStart.getTime();
        const last = rows.at(-1)!.at.getTime();
        expect(last).toBe(TO);
        const stored = await store.attainment(slo.name, new Date(FROM), new Date(TO + 1));

        // The same SLI read by Prometheus over the whole covered span at once.
        const whole = (await source.read(slo, [last - first], new Date(last))).get(last - first)!;
        expect(whole.counts).toBeDefined();
        const rel = (a: number, b: number) => Math.abs(a - b) / b;
        expect(rel(stored.total, whole.counts!.total)).toBeLessThan(0.005);
        expect(rel(stored.errors, whole.counts!.errors)).toBeLessThan(0.005);

        if (slo.budgeting.method === 'occurrences') {
          // And the generated events themselves: 20/s, 2% errors but 40% for ten minutes.
          const seconds = (last - first) / 1000;
          // (Prometheus' increase extrapolates its edges with the range's average slope, which the
          // burst inflates: its read of the errors is about 1.2% over here, and the rows with it;
          // the rows agree with that read within 0.5% above.)
          expect(rel(stored.total, 20 * seconds)).toBeLessThan(0.005);
          expect(rel(stored.errors, 20 * (0.02 * (seconds - 600) + 0.4 * 600))).toBeLessThan(0.02);
        } else {
          // One slice a minute; the ten 40% minutes are the bad slices (95% slice target), each
          // seen in its 2-minute range by the slice ending one minute later too.
          expect(stored.total).toBe((last - first) / M);
          expect(stored.errors).toBeGreaterThanOrEqual(10);
          expect(stored.errors).toBeLessThanOrEqual(12);
        }
      }
    }, 600_000);
  });
});
