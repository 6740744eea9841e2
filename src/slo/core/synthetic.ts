import type { WindowCounts } from './budget.js';
import type { Budgeting, SyntheticScript } from './model.js';
import { tidy } from './promql.js';
import { sliceErrors, sliceRangeMs } from './slices.js';

/**
 * The synthetic SLI: an error ratio scripted over time, for drills and the first-run demo.
 * Counts are the exact integral of the script over a window, so they are a pure function of
 * the clock (and the anchor): the same clock always gives the same budget and burn rates.
 */

/** Error ratio at instant `ms`, given the anchor instant. */
export function syntheticRatioAt(script: SyntheticScript, anchorMs: number, ms: number): number {
  const phases = script.phases;
  let offset = ms - anchorMs;
  if (script.repeatMs) offset = ((offset % script.repeatMs) + script.repeatMs) % script.repeatMs;
  let ratio = phases[0]?.errorRatio ?? 0;
  for (const p of phases) if (p.atMs <= offset) ratio = p.errorRatio;
  return ratio;
}

/** Instants in (fromMs, toMs) where the scripted ratio may change. */
function boundaries(script: SyntheticScript, anchorMs: number, fromMs: number, toMs: number): number[] {
  const out: number[] = [];
  const offsets = script.phases.map((p) => p.atMs);
  if (script.repeatMs) {
    const period = script.repeatMs;
    const firstCycle = Math.floor((fromMs - anchorMs) / period);
    const lastCycle = Math.floor((toMs - anchorMs) / period);
    for (let c = firstCycle; c <= lastCycle; c++) {
      for (const o of [0, ...offsets]) {
        const t = anchorMs + c * period + o;
        if (t > fromMs && t < toMs) out.push(t);
      }
    }
  } else {
    for (const o of offsets) {
      const t = anchorMs + o;
      if (t > fromMs && t < toMs) out.push(t);
    }
  }
  return [...new Set(out)].sort((a, b) => a - b);
}

/** Errors and total requests the script produced in [fromMs, toMs]. */
export function syntheticCounts(script: SyntheticScript, anchorMs: number, fromMs: number, toMs: number): WindowCounts {
  if (toMs <= fromMs) return { errors: 0, total: 0 };
  const points = [fromMs, ...boundaries(script, anchorMs, fromMs, toMs), toMs];
  let errors = 0;
  for (let i = 0; i + 1 < points.length; i++) {
    const a = points[i]!;
    const b = points[i + 1]!;
    errors += syntheticRatioAt(script, anchorMs, a) * script.requestsPerSecond * ((b - a) / 1000);
  }
  return { errors, total: script.requestsPerSecond * ((toMs - fromMs) / 1000) };
}

/**
 * The time-slice counts of (fromMs, toMs]: `total` the slices ending in it, `errors` the bad
 * slices (or, for ratioTimeslices, the sum of their error ratios), each slice judged on the
 * script's exact ratio over its own range — the rule Prometheus applies (core/slices.ts). A
 * run of slices inside one phase shares its ratio and is counted at once, so a year of
 * one-minute slices costs one step per phase change, not 525,600.
 */
export function syntheticSliceCounts(
  script: SyntheticScript,
  anchorMs: number,
  fromMs: number,
  toMs: number,
  b: Exclude<Budgeting, { method: 'occurrences' }>,
): WindowCounts {
  const s = b.sliceMs;
  const r = sliceRangeMs(b);
  const first = Math.floor(fromMs / s) + 1;
  const last = Math.floor(toMs / s);
  if (last < first) return { errors: 0, total: 0 };
  const cuts = boundaries(script, anchorMs, first * s - r, last * s);
  let errors = 0;
  let c = 0;
  for (let k = first; k <= last; ) {
    const end = k * s;
    const start = end - r;
    while (c < cuts.length && cuts[c]! <= start) c++;
    const next = cuts[c] ?? Infinity;
    if (next >= end) {
      // No change inside this slice's range, nor in any later one that ends by the next change.
      const upTo = Math.min(last, Math.floor(next / s));
      errors += (upTo - k + 1) * sliceErrors(b, syntheticRatioAt(script, anchorMs, start));
      k = upTo + 1;
    } else {
      const counts = syntheticCounts(script, anchorMs, start, end);
      errors += sliceErrors(b, tidy(counts.errors / counts.total));
      k++;
    }
  }
  return { errors, total: last - first + 1 };
}
