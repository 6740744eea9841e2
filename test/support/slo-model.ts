/**
 * An independent model of the SLO figures, for the acceptance suite on backfilled Prometheus
 * data. It shares no code with src/slo: it reads the generated samples directly, reproduces
 * Prometheus 2's documented `rate()` (closed range, extrapolation to the range's edges), and
 * applies the definitions of docs/slo.md written out again by hand.
 */

/** One counter series: sample times (ms) and values, oldest first. */
export interface Series {
  labels: Record<string, string>;
  t: number[];
  v: number[];
}

function lowerBound(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Prometheus 2.x `rate(series[range])` at `atMs`: samples in [at − range, at]; undefined with fewer than two. */
export function promRate(s: Series, atMs: number, rangeMs: number): number | undefined {
  const start = atMs - rangeMs;
  const i = lowerBound(s.t, start);
  const j = lowerBound(s.t, atMs + 1) - 1;
  if (j - i < 1) return undefined;
  let delta = s.v[j]! - s.v[i]!;
  for (let k = i + 1; k <= j; k++) if (s.v[k]! < s.v[k - 1]!) delta += s.v[k - 1]!;
  const sampled = (s.t[j]! - s.t[i]!) / 1000;
  let toStart = (s.t[i]! - start) / 1000;
  const toEnd = (atMs - s.t[j]!) / 1000;
  const avg = sampled / (j - i);
  if (delta > 0 && s.v[i]! >= 0) {
    const toZero = sampled * (s.v[i]! / delta);
    if (toZero < toStart) toStart = toZero;
  }
  const threshold = avg * 1.1;
  let interval = sampled;
  interval += toStart < threshold ? toStart : avg / 2;
  interval += toEnd < threshold ? toEnd : avg / 2;
  return (delta * (interval / sampled)) / (rangeMs / 1000);
}

/** `sum(rate(...))` over several series; undefined when none has a rate. */
export function sumRate(series: readonly Series[], atMs: number, rangeMs: number): number | undefined {
  let sum: number | undefined;
  for (const s of series) {
    const r = promRate(s, atMs, rangeMs);
    if (r !== undefined) sum = (sum ?? 0) + r;
  }
  return sum;
}

/** `rangeMs`: the rate range inside a slice (the slice length unless given). */
export type Method =
  | { method: 'occurrences' }
  | { method: 'timeslices'; sliceMs: number; target: number; rangeMs?: number }
  | { method: 'ratioTimeslices'; sliceMs: number; rangeMs?: number };

export interface ModelWindow {
  /** Error ratio; null = no data. */
  ratio: number | null;
  /** Requests in the window (rate × seconds). */
  requests: number | null;
  /** Slices in the window (time-slice methods). */
  slices?: number;
}

/**
 * The SLI over [at − range, at]. Occurrences: Σ rate(errors) / Σ rate(all). Time slices: the
 * window is divided into slices ending at multiples of the slice length in (at − range, at];
 * a slice's ratio is its own rate ratio (no traffic: no slice data); bad slices (or summed slice
 * ratios) over all slices of the window.
 */
export function modelWindow(
  errors: readonly Series[],
  all: readonly Series[],
  m: Method,
  atMs: number,
  rangeMs: number,
  /** Slice error ratios by slice end (null: no traffic), reused across windows of one series and slice length. */
  cache: Map<number, number | null> = new Map(),
): ModelWindow {
  const totalRate = sumRate(all, atMs, rangeMs);
  const requests = totalRate === undefined ? null : totalRate * Math.round(rangeMs / 1000);
  if (m.method === 'occurrences') {
    if (totalRate === undefined || totalRate <= 0) return { ratio: null, requests };
    return { ratio: Math.min(1, (sumRate(errors, atMs, rangeMs) ?? 0) / totalRate), requests };
  }
  const first = Math.ceil((atMs - rangeMs + 1) / m.sliceMs) * m.sliceMs;
  let n = 0;
  let withData = 0;
  let spent = 0;
  for (let t = first; t <= atMs; t += m.sliceMs) {
    n++;
    let r = cache.get(t);
    if (r === undefined) {
      const range = m.rangeMs ?? m.sliceMs;
      const total = sumRate(all, t, range);
      r = total === undefined || total <= 0 ? null : (sumRate(errors, t, range) ?? 0) / total;
      cache.set(t, r);
    }
    if (r === null) continue;
    withData++;
    spent += m.method === 'ratioTimeslices' ? r : r > 1 - m.target ? 1 : 0;
  }
  return { ratio: withData === 0 ? null : spent / n, requests, slices: n };
}

export type Status = 'inactive' | 'pending' | 'firing' | 'resolved';

export interface WindowSet {
  severity: 'page' | 'ticket';
  longMs: number;
  shortMs: number;
  factor: number;
}

/**
 * The alerting semantics written out independently: a set breaches when both windows burn
 * above the factor with at least `minRequests` requests each; a set with a window without data
 * is undecided and holds the state; a firing page holds a pending ticket back without resetting it.
 */
export class ModelAlerts {
  state = { page: { status: 'inactive' as Status, since: 0 }, ticket: { status: 'inactive' as Status, since: 0 } };

  constructor(
    readonly sets: WindowSet[],
    readonly forMs: { page: number; ticket: number },
    readonly minRequests: number,
    readonly budget: number,
  ) {}

  step(nowMs: number, read: (ms: number) => ModelWindow): void {
    const judge = (sev: 'page' | 'ticket') => {
      let breach = false;
      let unknown = false;
      for (const s of this.sets.filter((x) => x.severity === sev)) {
        const l = read(s.longMs);
        const sh = read(s.shortMs);
        if (l.ratio === null || sh.ratio === null) {
          unknown = true;
          continue;
        }
        const enough = (w: ModelWindow) => (w.requests ?? 0) > 0 && (w.requests ?? 0) >= this.minRequests;
        if (enough(l) && enough(sh) && l.ratio / this.budget > s.factor && sh.ratio / this.budget > s.factor) breach = true;
      }
      return { breach, unknown };
    };
    const move = (sev: 'page' | 'ticket', held: boolean) => {
      const { breach, unknown } = judge(sev);
      const cur = this.state[sev];
      const set = (status: Status) => {
        if (status !== cur.status) this.state[sev] = { status, since: nowMs };
      };
      if (!breach && unknown) return;
      if (cur.status === 'firing') return set(breach ? 'firing' : 'resolved');
      if (!breach) return set(cur.status === 'pending' ? 'inactive' : cur.status);
      if (cur.status !== 'pending') return set(this.forMs[sev] <= 0 && !held ? 'firing' : 'pending');
      if (!held && nowMs - cur.since >= this.forMs[sev]) set('firing');
    };
    move('page', false);
    move('ticket', this.state.page.status === 'firing');
  }
}
