import type { Slo } from './model.js';

/**
 * Which window an evaluation's `slo_samples` row covers. Rows carry the counts over their own
 * window, (windowStart, at], and consecutive rows' windows are adjacent, so they add up: the
 * events (or slices) of any period are the sum of its rows, never a sum of overlapping rates.
 *
 * A read must hold two scrapes (a Prometheus rate needs two samples), so an evaluation less
 * than `minSampleMs` after a new anchor stores nothing; the next covers all the time since.
 */

/** Two scrapes at Prometheus' default 60 s scrape interval. */
export const DEFAULT_MIN_SAMPLE_MS = 2 * 60_000;

/**
 * The shortest window a sample of this SLO may cover: none for the synthetic source (exact at
 * any length); for Prometheus two scrapes (the SLI's declared slice range when longer).
 */
export function minSampleMs(slo: Slo): number {
  if (slo.sli.source !== 'prometheus') return 1000;
  const b = slo.budgeting;
  return b.method === 'occurrences' ? DEFAULT_MIN_SAMPLE_MS : Math.max(DEFAULT_MIN_SAMPLE_MS, b.rangeMs ?? 0);
}

/** Counts over (anchorMs, atMs]: what the previous stored row read, kept to difference the next read against. */
export interface SampleCursor {
  anchorMs: number;
  atMs: number;
  errors: number;
  total: number;
}

export interface SamplePlanInput {
  nowMs: number;
  /** The previous row's cursor, or only its `at` after a restart (then a new anchor starts there). */
  previous: SampleCursor | { atMs: number } | undefined;
  /** The schedule's interval: what a first row covers (at least `minMs`). */
  intervalMs: number;
  minMs: number;
  /** Longest read from one anchor (and longest row after an outage); a new anchor starts at the previous row. */
  maxSpanMs: number;
}

export interface SamplePlan {
  /** Read the SLI's counts over (anchorMs, now]: this many ms. */
  readMs: number;
  anchorMs: number;
  /** The row covers (windowStartMs, now]. */
  windowStartMs: number;
}

/**
 * Where this evaluation's row reads from, or undefined: store no row yet (the window would hold
 * fewer than two scrapes). Rows read cumulative counts from a shared anchor and store the
 * difference to the previous read, so rows under one anchor add up to exactly one read over
 * their whole span (Prometheus' increase over the period) — adjacent short windows would not:
 * each extrapolates its own edges, and at 2-scrape windows a burst's edges are off by 1–3%.
 */
export function samplePlan(i: SamplePlanInput): SamplePlan | undefined {
  const p = i.previous;
  if (p === undefined) {
    const readMs = Math.max(i.intervalMs, i.minMs);
    return { readMs, anchorMs: i.nowMs - readMs, windowStartMs: i.nowMs - readMs };
  }
  if (p.atMs >= i.nowMs) return undefined;
  if ('anchorMs' in p && i.nowMs - p.anchorMs <= i.maxSpanMs) {
    return { readMs: i.nowMs - p.anchorMs, anchorMs: p.anchorMs, windowStartMs: p.atMs };
  }
  // A new anchor at the previous row (older time beyond the cap stays uncounted).
  const readMs = Math.min(i.nowMs - p.atMs, Math.max(i.maxSpanMs, i.minMs));
  if (readMs < i.minMs) return undefined;
  return { readMs, anchorMs: i.nowMs - readMs, windowStartMs: i.nowMs - readMs };
}

/** The row's counts: the read minus the previous read from the same anchor. */
export function rowCounts(
  plan: SamplePlan,
  read: { errors: number; total: number },
  previous: SamplePlanInput['previous'],
): { errors: number; total: number } {
  if (previous && 'anchorMs' in previous && previous.anchorMs === plan.anchorMs) {
    return { errors: read.errors - previous.errors, total: read.total - previous.total };
  }
  return read;
}

/**
 * Long windows from stored counts (QUENCH_SLO_LONG_WINDOWS=stored): a window of a day or more is
 * the sum of the stored rows inside it instead of a raw Prometheus read over its whole length.
 * A segment is a stretch (startMs, endMs] with its counts: a row, or adjacent rows merged (the
 * evaluator keeps one per hour).
 */
export interface CountSegment {
  startMs: number;
  endMs: number;
  errors: number;
  total: number;
}

/** Windows at least this long are read from stored counts in `stored` mode; shorter ones stay raw. */
export const LONG_WINDOW_MS = 86_400_000;

/** Slice ends (multiples of `sliceMs`, Prometheus' subquery grid) in (fromMs, toMs]. */
export function slicesIn(fromMs: number, toMs: number, sliceMs: number): number {
  return Math.max(0, Math.floor(toMs / sliceMs) - Math.floor(fromMs / sliceMs));
}

export interface SegmentSum {
  errors: number;
  total: number;
  /** Stretches of (fromMs, toMs] no segment covers: read them raw, never count them as nothing. */
  gaps: Array<{ fromMs: number; toMs: number }>;
}

/**
 * Σ of the segments over (fromMs, toMs]. A segment cut by an edge counts its share: by time for
 * events, by slice ends for time slices (exact for a segment of one slice). Overlapping segments
 * (two writers) count the overlap once. `segments` sorted by `startMs`.
 */
export function sumSegments(segments: readonly CountSegment[], fromMs: number, toMs: number, sliceMs?: number): SegmentSum {
  let errors = 0;
  let total = 0;
  const gaps: SegmentSum['gaps'] = [];
  let cursor = fromMs;
  const span = (a: number, b: number) => (sliceMs ? slicesIn(a, b, sliceMs) : Math.max(0, b - a));
  for (const s of segments) {
    if (s.endMs <= cursor || s.startMs >= toMs) continue;
    if (s.startMs > cursor) gaps.push({ fromMs: cursor, toMs: s.startMs });
    const lo = Math.max(s.startMs, cursor);
    const hi = Math.min(s.endMs, toMs);
    const whole = span(s.startMs, s.endMs);
    const share = whole > 0 ? span(lo, hi) / whole : lo === s.startMs && hi === s.endMs ? 1 : 0;
    errors += s.errors * share;
    total += s.total * share;
    cursor = hi;
    if (cursor >= toMs) break;
  }
  if (cursor < toMs) gaps.push({ fromMs: cursor, toMs });
  return { errors, total, gaps };
}

/**
 * Appends a row to a segment list, merging it into the last segment when adjacent and in the
 * same hour (by its end), so a 30-day window is ~720 segments per SLO in memory, not 43,200.
 */
export function appendSegment(segments: CountSegment[], row: CountSegment, mergeMs = 3_600_000): void {
  const last = segments[segments.length - 1];
  if (last && last.endMs === row.startMs && Math.floor((last.endMs - 1) / mergeMs) === Math.floor((row.endMs - 1) / mergeMs)) {
    last.endMs = row.endMs;
    last.errors += row.errors;
    last.total += row.total;
    return;
  }
  segments.push({ ...row });
}
