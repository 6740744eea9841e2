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
const DAY = 24 * HOUR;

/**
 * Back-fill: per SLO and cycle, at most this many raw reads turn a stretch without rows into
 * stored rows (newest first), so the gaps close within minutes instead of the window's length:
 * hour-long rows within the last 3 days (where the 1d and 3d alert windows cut rows), day-long
 * beyond (only the SLO window reaches there; its edge cuts one day-long row by time).
 */
export const FILL_READS_PER_CYCLE = 4;
const HOURLY_FILL_MS = 3 * DAY + HOUR;

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
    const minMs = minSampleMs(slo);
    await this.#fill(slo, source, entry, nowMs, longest, current, minMs, signal);
    const segments = current && current.endMs > current.startMs ? [...entry.segments, current] : entry.segments;

    const b = slo.budgeting;
    const sliced = b.method !== 'occurrences';
    // Time slices (and threshold samples, taken on a 1-minute grid) are cut at the grid's slice ends.
    const grid = sliced ? b.sliceMs : slo.sli.kind === 'threshold' ? 60_000 : undefined;
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

  /** Reads up to FILL_READS_PER_CYCLE chunks of the newest stretches without rows and stores them as rows. */
  async #fill(
    slo: Slo,
    source: SliSource,
    entry: Entry,
    nowMs: number,
    longest: number,
    current: CountSegment | undefined,
    minMs: number,
    signal?: AbortSignal,
  ): Promise<void> {
    const all = current && current.endMs > current.startMs ? [...entry.segments, current] : entry.segments;
    // Only behind the newest row: the stretch after it is the next row's (the evaluator's cursor).
    const until = current && current.endMs > current.startMs ? current.endMs : entry.lastAtMs;
    if (until === undefined) return;
    const gaps = sumSegments(all, nowMs - longest, until).gaps.reverse();
    const chunks: Array<{ startMs: number; endMs: number }> = [];
    for (const g of gaps) {
      for (let end = g.toMs; end - g.fromMs >= minMs && chunks.length < FILL_READS_PER_CYCLE; ) {
        const len = Math.min(end - g.fromMs, nowMs - end < HOURLY_FILL_MS ? HOUR : DAY);
        chunks.push({ startMs: end - len, endMs: end });
        end -= len;
      }
      if (chunks.length >= FILL_READS_PER_CYCLE) break;
    }
    if (chunks.length === 0) return;
    const rows: CountSegment[] = [];
    for (const c of chunks) {
      const len = c.endMs - c.startMs;
      const v = (await source.read(slo, [len], new Date(c.endMs), signal)).get(len);
      // As the evaluator's rows: counts, or a raw ratio as seconds weighted by it; no data is 0 of 0.
      const counts = v?.counts ?? (v && v.ratio !== null ? { errors: v.ratio * (len / 1000), total: len / 1000 } : { errors: 0, total: 0 });
      rows.push({ ...c, ...counts });
    }
    await this.#store.saveSamples(
      rows.map((r) => ({
        slo: slo.name,
        at: new Date(r.endMs),
        windowStart: new Date(r.startMs),
        resolutionS: Math.round((r.endMs - r.startMs) / 1000),
        errors: r.errors,
        total: r.total,
        budgetRemaining: null,
        burnRate: null,
      })),
    );
    entry.segments.push(...rows);
    entry.segments.sort((a, b) => a.startMs - b.startMs || a.endMs - b.endMs);
  }
}
