import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { parseYamlSource } from '../../../src/definitions/source.js';
import type { Slo } from '../../../src/slo/core/model.js';
import { appendSegment, type CountSegment, slicesIn, sumSegments } from '../../../src/slo/core/samples.js';
import { importSlos } from '../../../src/slo/definitions.js';
import { SloEvaluator } from '../../../src/slo/evaluator.js';
import type { SliSource, WindowValue } from '../../../src/slo/sources/port.js';
import { createSloStore, type SloStore } from '../../../src/slo/store.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../../support/databases.js';

const M = 60_000;
const H = 60 * M;

describe('sumSegments: long windows from stored rows', () => {
  const rows: CountSegment[] = [
    { startMs: 0, endMs: H, errors: 6, total: 600 },
    { startMs: H, endMs: 2 * H, errors: 60, total: 600 },
    { startMs: 3 * H, endMs: 4 * H, errors: 0, total: 600 },
  ];

  it('sums whole rows, prorates a row cut by the edge by time, and names the stretches without rows', () => {
    const s = sumSegments(rows, 30 * M, 5 * H);
    expect(s.errors).toBeCloseTo(3 + 60 + 0, 9);
    expect(s.total).toBeCloseTo(300 + 600 + 600, 9);
    expect(s.gaps).toEqual([
      { fromMs: 2 * H, toMs: 3 * H },
      { fromMs: 4 * H, toMs: 5 * H },
    ]);
    // Before the first row is a gap too: history shorter than the window is read raw, not as zero.
    expect(sumSegments(rows, -H, 2 * H).gaps).toEqual([{ fromMs: -H, toMs: 0 }]);
  });

  it('time slices are cut at slice ends: a one-slice row is in or out, never half', () => {
    const minute: CountSegment[] = [
      { startMs: 0, endMs: M, errors: 1, total: 1 },
      { startMs: M, endMs: 2 * M, errors: 0, total: 1 },
    ];
    // The window (30 s, 2 min] holds the slice ending at 1 min: the whole bad slice.
    expect(sumSegments(minute, 30_000, 2 * M, M).errors).toBe(1);
    expect(sumSegments(minute, M, 2 * M, M).errors).toBe(0);
    expect(slicesIn(30_000, 2 * M, M)).toBe(2);
  });

  it('overlapping rows (two writers) count the overlap once', () => {
    const overlap: CountSegment[] = [
      { startMs: 0, endMs: 2 * H, errors: 2, total: 200 },
      { startMs: H, endMs: 3 * H, errors: 2, total: 200 },
    ];
    const s = sumSegments(overlap, 0, 3 * H);
    expect(s.total).toBeCloseTo(300, 9);
    expect(s.gaps).toEqual([]);
  });

  it('appendSegment merges adjacent rows within an hour and starts a new segment at the hour', () => {
    const segs: CountSegment[] = [];
    for (let t = 0; t < 2 * H; t += M) appendSegment(segs, { startMs: t, endMs: t + M, errors: 1, total: 10 });
    expect(segs).toEqual([
      { startMs: 0, endMs: H, errors: 60, total: 600 },
      { startMs: H, endMs: 2 * H, errors: 60, total: 600 },
    ]);
    // Not adjacent (a gap): a new segment, so the gap stays visible.
    appendSegment(segs, { startMs: 2 * H + M, endMs: 2 * H + 2 * M, errors: 0, total: 10 });
    expect(segs).toHaveLength(3);
  });
});

/**
 * An SLI source over an exact script (our own port, so a scripted one is fair): requests at 10/s,
 * errors at 2% except a 40% incident; time slices on the absolute grid, as Prometheus'
 * subqueries are. Counts every read so the test sees what stayed raw.
 */
const INCIDENT: [number, number] = [Date.UTC(2026, 0, 10, 3), Date.UTC(2026, 0, 10, 3, 40)];
const errAt = (t: number) => (t >= INCIDENT[0] && t < INCIDENT[1] ? 0.4 : 0.02);
function exactSource(): SliSource & { reads: Array<{ at: number; windows: number[] }> } {
  const integral = (from: number, to: number) => {
    // Piecewise constant: split at the incident's edges.
    const cuts = [from, ...INCIDENT.filter((c) => c > from && c < to), to];
    let errors = 0;
    for (let i = 1; i < cuts.length; i++) errors += ((cuts[i]! - cuts[i - 1]!) / 1000) * 10 * errAt(cuts[i - 1]!);
    return { errors, total: ((to - from) / 1000) * 10 };
  };
  const source = {
    name: 'exact',
    reads: [] as Array<{ at: number; windows: number[] }>,
    async read(slo: Slo, windows: readonly number[], now: Date) {
      source.reads.push({ at: now.getTime(), windows: [...windows] });
      const out = new Map<number, WindowValue>();
      const to = now.getTime();
      for (const ms of windows) {
        const b = slo.budgeting;
        if (b.method === 'occurrences') {
          const c = integral(to - ms, to);
          out.set(ms, { ratio: c.errors / c.total, counts: c, requests: c.total });
        } else {
          // A slice is bad when its error ratio exceeds 5% (sliceTarget 95).
          let bad = 0;
          const n = slicesIn(to - ms, to, b.sliceMs);
          for (let end = Math.floor(to / b.sliceMs) * b.sliceMs, i = 0; i < n; i++, end -= b.sliceMs) {
            const c = integral(end - b.sliceMs, end);
            if (c.errors / c.total > 0.05) bad++;
          }
          out.set(ms, { ratio: bad / n, counts: { errors: bad, total: n }, requests: (ms / 1000) * 10 });
        }
      }
      return out;
    },
  };
  return source;
}

const yaml = (name: string, budgeting: string) => `apiVersion: quench/v1
kind: SLO
metadata: { name: ${name} }
service: svc
objective: 99
window: 7d
budgeting: ${budgeting}
sli: { events: { errorQuery: 'e[{{window}}]', totalQuery: 't[{{window}}]' } }
`;
const { slos } = importSlos(
  parseYamlSource('t.yaml', [yaml('occ', 'occurrences'), yaml('ts', '{ method: timeslices, sliceLength: 5m, sliceTarget: 95 }')].join('---\n')).documents,
);

describe.each(databaseKinds)('QUENCH_SLO_LONG_WINDOWS=stored on %s', (kind) => {
  let db: TestDatabase | undefined;
  afterEach(async () => {
    await db?.dispose();
    db = undefined;
  });

  const evaluator = (store: SloStore | undefined, clock: ManualClock, longWindows: 'raw' | 'stored', source: SliSource) =>
    new SloEvaluator({
      slos,
      sources: { prometheus: source, synthetic: source },
      clock,
      logger: silentLogger,
      ...(store ? { store } : {}),
      longWindows,
      intervalMs: 15 * M,
    });

  it('agrees with raw reads through history shorter than the window, a restart after two days down, and an incident', async () => {
    db = await freshDatabase(kind);
    const store = createSloStore(db.db);
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const source = exactSource();
    let stored = evaluator(store, clock, 'stored', source);
    const raw = evaluator(undefined, clock, 'raw', exactSource());
    const compare = async () => {
      await stored.evaluateAll();
      await raw.evaluateAll();
      for (const s of stored.list()) {
        const r = raw.get(s.name)!;
        const when = `${s.name} at ${clock.now().toISOString()}`;
        expect(s.state, `${when}: ${s.error}`).toBe('ok');
        for (const w of ['1d', '3d']) expect(s.burnRates[w], `${when} ${w}`).toBeCloseTo(r.burnRates[w]!, 6);
        expect(s.attainment, `${when} attainment`).toBeCloseTo(r.attainment!, 9);
      }
    };
    // Nine days every 15 minutes, with the service down from day 4 to day 6.
    for (let t = clock.now().getTime(); t <= Date.UTC(2026, 0, 10, 6); t += 15 * M) {
      if (t >= Date.UTC(2026, 0, 4) && t < Date.UTC(2026, 0, 6)) continue;
      if (t === Date.UTC(2026, 0, 6)) stored = evaluator(store, clock, 'stored', source); // a fresh process
      clock.set(t);
      await compare();
    }
    // Steady state: per SLO one raw read of the short windows (6h at most) and nothing else: the
    // stretches without rows (before the first row, the two days down) were back-filled as rows.
    source.reads.length = 0;
    clock.set(Date.UTC(2026, 0, 10, 6, 15));
    await compare();
    expect(source.reads.map((r) => [r.at, Math.max(...r.windows)])).toEqual([
      [clock.now().getTime(), 6 * H],
      [clock.now().getTime(), 6 * H],
    ]);
    // The back-fill closed the outage within a few cycles of the restart, not days later.
    const rows = await store.history('occ', new Date(Date.UTC(2026, 0, 4)), new Date(Date.UTC(2026, 0, 6)));
    expect(rows.length).toBeGreaterThan(0);
    // Rows now tile the whole outage: from the last row before it (23:45) to the restart's first row (23:00).
    expect(rows.reduce((n, r) => n + (r.at.getTime() - r.windowStart.getTime()), 0)).toBe(47 * H + 15 * M);
  }, 120_000);
});
