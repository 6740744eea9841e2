import type { AuditTrail } from '../audit/trail.js';
import type { Clock } from '../core/clock.js';
import { asQuenchError, QuenchError } from '../core/errors.js';
import type { Logger } from '../telemetry/logger.js';
import type { TriggerSink } from '../triggers/sink.js';
import { type AlertState, initialAlertState, judgeWindows, stepSlo, type WindowReading } from './core/alerts.js';
import { burnRate } from './core/budget.js';
import { periodMs, windowBounds } from './core/calendar.js';
import { type Severity, type Slo, severities } from './core/model.js';
import { LONG_WINDOW_MS, minSampleMs, rowCounts, type SampleCursor, samplePlan } from './core/samples.js';
import { buildStatus, pendingStatus, type SloStatus, windowLabel } from './core/status.js';
import { formatDuration } from './core/duration.js';
import { alertWindowLengths } from './core/windows.js';
import { burnEvent } from './events.js';
import { mapLimit, withTimeout } from './limit.js';
import type { SloMetrics } from './metrics.js';
import type { SliSource, WindowValue } from './sources/port.js';
import { StoredWindows } from './sources/stored-windows.js';
import type { SampleInput, SloStore } from './store.js';

export interface EvaluatorOptions {
  slos: Slo[];
  /**
   * `forDataSource`: the source for an SLO that names an OpenSLO DataSource with connection
   * details (src/slo/sources/datasources.ts); such SLOs never fall back to `prometheus`.
   */
  sources: { prometheus?: SliSource; synthetic: SliSource; forDataSource?: (ds: NonNullable<Slo['dataSource']>) => SliSource };
  clock: Clock;
  logger: Logger;
  /** Absent for one-shot CLI evaluations: nothing is stored, audited or emitted. */
  store?: SloStore;
  audit?: AuditTrail;
  /** Read at call time: ingest/ may replace the sink after the evaluator starts. */
  triggers?: () => TriggerSink;
  metrics?: SloMetrics;
  concurrency?: number;
  /** Per-SLO limit; a slower SLO fails this cycle alone. */
  timeoutMs?: number;
  /** The schedule's interval: the first sample of an SLO covers this much. */
  intervalMs?: number;
  /**
   * Where windows of a day or more (and the SLO window) come from for Prometheus SLIs: `raw`
   * reads them from Prometheus every cycle; `stored` sums the stored rows (sources/stored-windows.ts,
   * needs `store`). QUENCH_SLO_LONG_WINDOWS; default raw here, the service's default is in config.
   */
  longWindows?: 'raw' | 'stored';
}

/** What `replace` changed, by SLO name. */
export interface SloChanges {
  added: string[];
  removed: string[];
  changed: string[];
}

/** The definition without where it was written: moving an SLO in its file changes nothing. */
const definitionOf = (slo: Slo) => JSON.stringify({ ...slo, origin: undefined });
/** What the stored rows and the sample cursor count (and from which endpoint): a change starts them afresh. */
const countingOf = (slo: Slo) => JSON.stringify([slo.sli, slo.budgeting, slo.window, slo.dataSource ?? null]);

export interface CycleResult {
  evaluated: number;
  failed: number;
  durationMs: number;
}

const ACTOR = { type: 'system', id: 'slo-evaluator' } as const;

/** Shortest range a calendar SLO window's ratio is read over: five scrapes at Prometheus' default. */
export const MIN_CALENDAR_READ_MS = 5 * 60_000;

/**
 * Rows read from one anchor for at most a day (one extra read of ≤ 1d per SLO per cycle, beside
 * the SLO window's own): rows add up exactly within a day; at an anchor change (daily, and after
 * a restart) two reads' edge extrapolations meet.
 */
export const SAMPLE_ANCHOR_SPAN_MS = 86_400_000;

/**
 * With long windows from stored rows, the anchor read is the only long raw read left: an hour
 * keeps it short (rows of one anchor still add up exactly; anchors change hourly).
 */
export const STORED_ANCHOR_SPAN_MS = 3_600_000;

/**
 * The elapsed share of the period the SLO window covers: 1 for rolling windows; for calendar
 * windows the elapsed time, or the elapsed slices the source counted (time-slice methods), over
 * the whole period's.
 */
function elapsedShare(slo: Slo, elapsedMs: number, periodMs: number, slicesSoFar: number | undefined): number {
  if (slo.window.kind === 'rolling') return 1;
  const b = slo.budgeting;
  if (b.method !== 'occurrences' && slicesSoFar !== undefined) {
    return slicesSoFar / Math.round(periodMs / b.sliceMs);
  }
  return elapsedMs / periodMs;
}

/**
 * Evaluates every SLO: reads its windows from its source, computes budget and burn rates,
 * steps the alert state machine, and records the outcome (samples, alert states, audit trail,
 * trigger events, metrics). SLOs run concurrently up to a limit, each with its own timeout.
 */
export class SloEvaluator {
  readonly #o: EvaluatorOptions;
  readonly #states = new Map<string, Record<Severity, AlertState>>();
  readonly #statuses = new Map<string, SloStatus>();
  /** Per SLO, the previous row's read (or only its time, from the store after a restart). */
  readonly #lastSample = new Map<string, SampleCursor | { atMs: number }>();
  readonly #stored: StoredWindows | undefined;
  #slos: Slo[];
  #loaded = false;

  constructor(options: EvaluatorOptions) {
    this.#o = options;
    this.#slos = options.slos;
    this.#stored = options.longWindows === 'stored' && options.store ? new StoredWindows(options.store) : undefined;
    for (const slo of options.slos) this.#statuses.set(slo.name, this.#initialStatus(slo));
  }

  #initialStatus(slo: Slo): SloStatus {
    const missing = slo.sli.source === 'prometheus' && !this.#sourceOf(slo);
    return pendingStatus(slo, 'not_evaluated', slo.sli.kind === 'unevaluable' ? slo.sli.reason : missing ? this.#noSource(slo) : undefined);
  }

  /** The SLO's source: synthetic, its DataSource's endpoint, or PROMETHEUS_URL's. */
  #sourceOf(slo: Slo): SliSource | undefined {
    const s = this.#o.sources;
    if (slo.sli.source === 'synthetic') return s.synthetic;
    if (slo.dataSource) return s.forDataSource?.(slo.dataSource);
    return s.prometheus;
  }

  #noSource(slo: Slo): string {
    return slo.dataSource
      ? `no data source: DataSource ${slo.dataSource.name} (${slo.dataSource.url}) is not available to this evaluator`
      : 'no data source: set PROMETHEUS_URL to evaluate Prometheus-based SLOs';
  }

  /**
   * Replaces the SLO definitions (hot reload). New SLOs start not evaluated; removed ones leave
   * the statuses, metrics and the next cycle (the deploy gate then lifts their freezes, as it
   * does for any SLO no longer listed); changed ones keep their last status and alert states
   * until the next cycle evaluates them with the new definition. When what an SLO counts
   * changed (SLI, budgeting, window), its sample cursor and stored counts start afresh: rows
   * written under the old definition are not summed into the new one's long windows.
   */
  replace(slos: Slo[]): SloChanges {
    const before = new Map(this.#slos.map((s) => [s.name, s]));
    const after = new Map(slos.map((s) => [s.name, s]));
    const changes: SloChanges = { added: [], removed: [], changed: [] };
    const nowMs = this.#o.clock.now().getTime();
    for (const [name, old] of before) {
      const next = after.get(name);
      if (!next) {
        changes.removed.push(name);
        this.#statuses.delete(name);
        this.#lastSample.delete(name);
        this.#stored?.forget(name, nowMs);
        this.#unpublish(old);
      } else if (definitionOf(next) !== definitionOf(old)) {
        changes.changed.push(name);
        if (countingOf(next) !== countingOf(old)) {
          const last = this.#lastSample.get(name);
          if (last) this.#lastSample.set(name, { atMs: last.atMs });
          this.#stored?.forget(name, nowMs);
        }
        if (next.service !== old.service) this.#unpublish(old);
        const status = this.#statuses.get(name);
        if (!status || status.state === 'not_evaluated') this.#statuses.set(name, this.#initialStatus(next));
      }
    }
    for (const [name, slo] of after) {
      if (before.has(name)) continue;
      changes.added.push(name);
      this.#statuses.set(name, this.#initialStatus(slo));
    }
    // An unchanged SLO keeps its object, so an evaluation of it in flight still lands.
    this.#slos = slos.map((s) => {
      const old = before.get(s.name);
      return old && definitionOf(old) === definitionOf(s) ? old : s;
    });
    return changes;
  }

  #unpublish(slo: Slo): void {
    const m = this.#o.metrics;
    if (!m) return;
    const base = { slo: slo.name, service: slo.service };
    m.objective.remove(base);
    m.budgetRemaining.remove(base);
    for (const w of alertWindowLengths(slo.alerting.windows)) m.burnRate.remove({ ...base, window: formatDuration(w) });
    for (const severity of severities) {
      m.alertFiring.remove({ ...base, severity });
      m.alertNoData.remove({ ...base, severity });
    }
  }

  get slos(): readonly Slo[] {
    return this.#slos;
  }

  list(): SloStatus[] {
    return this.#slos.map((s) => this.#statuses.get(s.name)!);
  }

  get(name: string): SloStatus | undefined {
    return this.#statuses.get(name);
  }

  async evaluateAll(): Promise<CycleResult> {
    const started = performance.now();
    if (!this.#loaded && this.#o.store) {
      for (const [slo, states] of await this.#o.store.loadAlertStates()) this.#states.set(slo, states);
    }
    this.#loaded = true;
    const samples: SampleInput[] = [];
    const results = await mapLimit(this.#slos, this.#o.concurrency ?? 16, async (slo) => {
      const sample = await this.#evaluateOne(slo);
      if (sample) samples.push(sample);
    });
    const failed = results.filter((r) => r.status === 'rejected').length;
    if (this.#o.store && samples.length > 0) {
      await this.#o.store.saveSamples(samples).catch((err) => this.#o.logger.error({ err }, 'storing SLO samples failed'));
    }
    return { evaluated: results.length - failed, failed, durationMs: performance.now() - started };
  }

  async #evaluateOne(slo: Slo): Promise<SampleInput | undefined> {
    const o = this.#o;
    if (slo.sli.kind === 'unevaluable') return undefined;
    const source = this.#sourceOf(slo);
    const timer = o.metrics?.evaluationSeconds.startTimer({ source: slo.sli.source });
    if (!source) {
      // Not a failure of this SLO: the service was started without Prometheus.
      this.#statuses.set(slo.name, pendingStatus(slo, 'not_evaluated', this.#noSource(slo)));
      return undefined;
    }
    try {
      const controller = new AbortController();
      const limit = o.timeoutMs ?? 30_000;
      return await withTimeout(this.#evaluate(slo, source, controller.signal), limit, () => {
        const err = new QuenchError('prometheus_unavailable', `evaluation of SLO ${slo.name} took longer than ${limit} ms`);
        controller.abort(err);
        return err;
      });
    } catch (err) {
      const e = asQuenchError(err);
      o.metrics?.evaluationErrors.inc({ slo: slo.name, reason: e.code });
      o.logger.warn({ slo: slo.name, code: e.code, err: e.message }, 'SLO evaluation failed');
      const previous = this.#statuses.get(slo.name) ?? pendingStatus(slo, 'error');
      if (this.#slos.includes(slo)) this.#statuses.set(slo.name, { ...previous, state: 'error', error: e.message });
      throw e;
    } finally {
      timer?.();
    }
  }

  async #evaluate(slo: Slo, source: SliSource, signal: AbortSignal): Promise<SampleInput | undefined> {
    const o = this.#o;
    const now = o.clock.now();
    const nowMs = now.getTime();
    const { startMs } = windowBounds(slo.window, nowMs);
    const sloRangeMs = Math.max(1000, nowMs - startMs);
    if (!this.#lastSample.has(slo.name) && o.store) {
      const last = await o.store.lastSampleAt(slo.name);
      if (last) this.#lastSample.set(slo.name, { atMs: last.getTime() });
    }
    const period = periodMs(slo.window, nowMs);
    const stored = slo.sli.source === 'prometheus' ? this.#stored : undefined;
    // The row's window: since the previous stored row, read from a shared anchor (core/samples.ts).
    const previous = this.#lastSample.get(slo.name);
    const plan = samplePlan({
      nowMs,
      previous,
      intervalMs: o.intervalMs ?? 60_000,
      minMs: minSampleMs(slo),
      maxSpanMs: Math.min(period, stored ? STORED_ANCHOR_SPAN_MS : SAMPLE_ANCHOR_SPAN_MS),
    });
    const sampleMs = plan?.readMs;
    const alertLengths = alertWindowLengths(slo.alerting.windows);
    // The first minutes of a calendar period hold fewer than two scrapes, so no rate: read the
    // ratio over a few minutes instead (it is weighted by the elapsed share, see elapsedShare).
    const readMs =
      slo.window.kind === 'calendar' && slo.budgeting.method === 'occurrences' ? Math.max(sloRangeMs, MIN_CALENDAR_READ_MS) : sloRangeMs;
    const wanted = [...new Set([...alertLengths, readMs])];
    // Long windows from stored rows (sources/stored-windows.ts); the short ones and the row's own read stay raw.
    const long = stored ? wanted.filter((ms) => ms >= LONG_WINDOW_MS) : [];
    const raw = wanted.filter((ms) => !long.includes(ms));
    const rawValues = await source.read(slo, [...raw, ...(sampleMs !== undefined ? [sampleMs] : [])], now, signal);
    const sample = sampleMs !== undefined ? rawValues.get(sampleMs) : undefined;
    // The counts read since the anchor (a raw-ratio SLI counts seconds weighted by its ratio),
    // less the previous read from the same anchor: the row's own window.
    const read =
      sample?.counts ??
      (sample?.ratio != null && sampleMs !== undefined ? { errors: sample.ratio * (sampleMs / 1000), total: sampleMs / 1000 } : { errors: 0, total: 0 });
    const counts = plan ? rowCounts(plan, read, previous) : undefined;
    const values = new Map<number, WindowValue>(raw.map((ms) => [ms, rawValues.get(ms) ?? { ratio: null }]));
    if (stored && long.length > 0) {
      const current = plan && counts ? { startMs: plan.windowStartMs, endMs: nowMs, ...counts } : undefined;
      const r = await stored.read(slo, source, long, nowMs, current, previous?.atMs, signal);
      for (const [ms, v] of r.values) values.set(ms, v);
      if (r.gapReads > 0) o.metrics?.storedGapReads?.inc({ slo: slo.name }, r.gapReads);
    }

    const readings = new Map<number, WindowReading>();
    const burns = new Map<number, number | null>();
    for (const ms of alertLengths) {
      const v = values.get(ms);
      const burn = burnRate(v?.ratio ?? null, slo.objective);
      burns.set(ms, burn);
      readings.set(ms, { burn, ...(v?.requests !== undefined ? { requests: v.requests } : {}) });
    }
    const sloValue = values.get(readMs);
    const windowRatio = sloValue?.ratio ?? null;

    const { breaching, noData } = judgeWindows(slo.alerting, readings);
    const bySeverity = (s: Severity) => breaching.filter((w) => w.severity === s);
    const noDataOf = (s: Severity) => noData.filter((w) => w.severity === s);
    const states = this.#states.get(slo.name) ?? { page: initialAlertState(nowMs), ticket: initialAlertState(nowMs) };
    const tiers = slo.alerting.tiers;
    const stepped = stepSlo(
      states,
      { page: bySeverity('page').length > 0, ticket: bySeverity('ticket').length > 0 },
      { page: tiers.page.forMs, ticket: tiers.ticket.forMs },
      { page: tiers.page.enabled, ticket: tiers.ticket.enabled },
      nowMs,
      { page: noDataOf('page').length > 0, ticket: noDataOf('ticket').length > 0 },
    );
    const status = buildStatus({
      slo,
      nowMs,
      windowRatio,
      elapsedShare: elapsedShare(slo, sloRangeMs, period, sloValue?.counts?.total),
      periodMs: period,
      burnByWindowMs: burns,
      alerts: {
        page: { status: 'inactive', since: null, breaching: [], noData: [] },
        ticket: { status: 'inactive', since: null, breaching: [], noData: [] },
      },
    });
    const next = { ...states };
    for (const severity of severities) {
      const { state, changed } = stepped[severity];
      if (changed) {
        // Emit before recording: if the sink fails, the state stays and the next cycle retries.
        await this.#recordChange(slo, severity, changed, state, status, bySeverity(severity).map(windowLabel), now);
      }
      next[severity] = state;
    }
    this.#states.set(slo.name, next);
    for (const severity of severities) {
      status.alerts[severity] = {
        status: next[severity].status,
        since: new Date(next[severity].sinceMs).toISOString(),
        breaching: bySeverity(severity).map(windowLabel),
        noData: noDataOf(severity).map(windowLabel),
      };
    }
    // Replaced while this evaluation ran (hot reload): the next cycle evaluates the new definition.
    if (!this.#slos.includes(slo)) return undefined;
    this.#statuses.set(slo.name, status);
    this.#publish(slo, status);
    if (plan === undefined || sampleMs === undefined || counts === undefined) return undefined;
    this.#lastSample.set(slo.name, { anchorMs: plan.anchorMs, atMs: nowMs, ...read });
    const fastestPage = Math.min(...slo.alerting.windows.filter((w) => w.severity === 'page').map((w) => w.longMs));
    return {
      slo: slo.name,
      at: now,
      windowStart: new Date(plan.windowStartMs),
      resolutionS: Math.round((nowMs - plan.windowStartMs) / 1000),
      errors: counts.errors,
      total: counts.total,
      budgetRemaining: status.errorBudget.remaining,
      burnRate: burns.get(fastestPage) ?? null,
    };
  }

  async #recordChange(
    slo: Slo,
    severity: Severity,
    changed: { from: AlertState['status']; to: AlertState['status'] },
    state: AlertState,
    status: SloStatus,
    windows: string[],
    now: Date,
  ): Promise<void> {
    const o = this.#o;
    const triggers = o.triggers?.();
    if (triggers && (changed.to === 'firing' || (changed.from === 'firing' && changed.to === 'resolved'))) {
      await triggers.emit(burnEvent(slo, severity, changed.to === 'firing' ? 'burn' : 'recovered', status, windows, now));
    }
    await o.audit?.append({
      actor: ACTOR,
      action: `slo.alert.${changed.to}`,
      subject: { type: 'slo', id: slo.name },
      data: {
        severity,
        from: changed.from,
        to: changed.to,
        windows,
        burnRates: status.burnRates,
        budgetRemaining: status.errorBudget.remaining,
      },
    });
    await o.store?.saveAlertState(slo.name, severity, state);
    o.logger.info({ slo: slo.name, severity, from: changed.from, to: changed.to, windows }, 'SLO alert state changed');
  }

  #publish(slo: Slo, status: SloStatus): void {
    const m = this.#o.metrics;
    if (!m) return;
    const base = { slo: slo.name, service: slo.service };
    m.objective.set(base, slo.objective);
    if (status.errorBudget.remaining === null) m.budgetRemaining.remove(base);
    else m.budgetRemaining.set(base, status.errorBudget.remaining);
    for (const [window, burn] of Object.entries(status.burnRates)) {
      if (burn === null) m.burnRate.remove({ ...base, window });
      else m.burnRate.set({ ...base, window }, burn);
    }
    for (const severity of severities) {
      m.alertFiring.set({ ...base, severity }, status.alerts[severity].status === 'firing' ? 1 : 0);
      m.alertNoData.set({ ...base, severity }, status.alerts[severity].noData.length > 0 ? 1 : 0);
    }
  }
}
