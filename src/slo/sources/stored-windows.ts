import { errorRatio } from '../core/budget.js';
import type { Slo } from '../core/model.js';
import { appendSegment, type CountSegment, minSampleMs, slicesIn, sumSegments } from '../core/samples.js';
import type { SloStore } from '../store.js';
import type { SliSource, WindowValue } from './port.js';

/**
 * Long windows (a day or more, and the SLO window) from Quench's own stored window counts
 * (`slo_samples`, QUENCH_SLO_LONG_WINDOWS=stored) instead of a raw Prometheus read over 30 days
 * every cycle: the rows inside the window are summed (core/samples.ts sumSegments), the row
 * this cycle reads covers the last stretch, and any stretch without rows (before the first row,
 * a restart longer than a day, a row that failed to store, a definition change) is read raw from
 * Prometheus at its own end time, so a gap is never counted as nothing.
 *
 * Per SLO an index of hour-merged segments is kept in memory (~720 for 30 days), loaded from the
 * store on first use and whenever the evaluator's cursor is not where the index ends (another
 * replica wrote rows, a restart).
 */
interface Entry {
  segments: CountSegment[];
  /** `at` of the last row the index holds (what the evaluator's next row must start from). */
  lastAtMs: number | undefined;
}

export interface StoredRead {
  values: Map<number, WindowValue>;
  /** Raw Prometheus reads this evaluation needed for stretches without rows. */
  gapReads: number;
}

const HOUR = 3_600_000;

export class StoredWindows {
  readonly #store: SloStore;
  readonly #index = new Map<string, Entry>();
  /** Per SLO, rows before this instant belong to an earlier definition: read those stretches raw. */
  readonly #notBefore = new Map<string, number>();

  constructor(store: SloStore) {
    this.#store = store;
  }

  /** The SLO's definition changed (or it was removed): stored rows before `atMs` no longer count. */
  forget(name: string, atMs: number): void {
    this.#index.delete(name);
    this.#notBefore.set(name, atMs);
  }

  /**
   * Reads `windowsMs` (each ending at `nowMs`) for one SLO. `current` is the row this evaluation
   * stores, covering (windowStart, now]; `previousAtMs` the `at` of the row before it.
   */
  async read(
    slo: Slo,
    source: SliSource,
    windowsMs: readonly number[],
    nowMs: number,
    current: CountSegment | undefined,
    previousAtMs: number | undefined,
    signal?: AbortSignal,
  ): Promise<StoredRead> {
    const longest = Math.max(...windowsMs);
    let entry = this.#index.get(slo.name);
    if (!entry || entry.lastAtMs !== previousAtMs) {
      const notBefore = this.#notBefore.get(slo.name) ?? -Infinity;
      const loaded = await this.#store.countSegments(slo.name, new Date(nowMs - longest - HOUR));
      entry = { segments: loaded.filter((s) => s.startMs >= notBefore), lastAtMs: previousAtMs };
      this.#index.set(slo.name, entry);
    }
    const segments = current && current.endMs > current.startMs ? [...entry.segments, current] : entry.segments;

    const b = slo.budgeting;
    const sliced = b.method !== 'occurrences';
    // Time slices (and threshold samples, taken on a 1-minute grid) are cut at the grid's slice ends.
    const grid = sliced ? b.sliceMs : slo.sli.kind === 'threshold' ? 60_000 : undefined;
    const minMs = minSampleMs(slo);
    const sums = windowsMs.map((ms) => ({ ms, ...sumSegments(segments, nowMs - ms, nowMs, grid) }));

    // Stretches without rows: one raw query per distinct end time, every window's share in it.
    // A stretch shorter than two scrapes is read over two scrapes and scaled to its share.
    const byEnd = new Map<number, Set<number>>();
    const lengthOf = (g: { fromMs: number; toMs: number }) => Math.max(g.toMs - g.fromMs, minMs);
    for (const s of sums) for (const g of s.gaps) (byEnd.get(g.toMs) ?? byEnd.set(g.toMs, new Set()).get(g.toMs)!).add(lengthOf(g));
    const reads = new Map<number, Map<number, WindowValue>>();
    for (const [endMs, lengths] of byEnd) reads.set(endMs, await source.read(slo, [...lengths], new Date(endMs), signal));

    const values = new Map<number, WindowValue>();
    for (const s of sums) {
      let { errors, total } = s;
      let gapData = false;
      for (const g of s.gaps) {
        const len = g.toMs - g.fromMs;
        const v = reads.get(g.toMs)?.get(lengthOf(g));
        if (!v || v.ratio === null) continue;
        gapData = true;
        const share = len / lengthOf(g);
        const c = v.counts ?? { errors: v.ratio * (len / 1000), total: len / 1000 };
        errors += c.errors * (v.counts ? share : 1);
        total += c.total * (v.counts ? share : 1);
      }
      if (sliced) {
        // Every slice of the window counts (an empty slice is good), no slice with data is no data.
        const hasData = s.total > 0 || gapData;
        const slices = slicesIn(nowMs - s.ms, nowMs, grid!);
        const counts = { errors, total: slices };
        values.set(s.ms, hasData ? { ratio: errorRatio(counts), counts } : { ratio: null });
        continue;
      }
      const counts = { errors, total };
      const ratio = errorRatio(counts);
      // The guard's request volume: events for request SLIs. A time-slice long window needs none:
      // its short window (inside it) carries the guard, and a longer window has at least as many.
      values.set(s.ms, ratio === null ? { ratio: null } : { ratio, counts, ...(slo.sli.kind === 'events' ? { requests: total } : {}) });
    }

    if (current && current.endMs > current.startMs) {
      appendSegment(entry.segments, current);
      entry.lastAtMs = current.endMs;
      // Keep what the longest window can still reach (the calendar period grows through the period).
      const keepFrom = nowMs - longest - HOUR;
      const drop = entry.segments.findIndex((x) => x.endMs > keepFrom);
      if (drop > 0) entry.segments.splice(0, drop);
    }
    return { values, gapReads: reads.size };
  }
}
