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
