import type { Problem } from '../../definitions/problem.js';
import type { SourceDocument } from '../../definitions/source.js';
import { instantOfOffsetTime, isValidTimeZone, nominalPeriodMs, parseWallTime, wallTimeText } from '../core/calendar.js';
import { calendarUnit, formatDuration, parseDuration } from '../core/duration.js';
import type { Alerting, BurnWindow, Budgeting, DataSourceRef, Sli, Slo, SloWindow } from '../core/model.js';
import { readsOwnRange, tidy } from '../core/promql.js';
import { openSloAlerting } from './openslo-alerts.js';
import { DEFAULT_SCRAPE_MS, fewScrapesMessage, readsWindowRanges, sloZodProblems, slug } from './common.js';
import {
  type MetricSource,
  OPENSLO_V1,
  type OpenSloKind,
  type OpenSloSliSpec,
  type OpenSloSlo,
  openSloDocumentSchemas,
  prometheusConnectionSchema,
} from './openslo-schema.js';
import { syntheticScript } from './quench-import.js';
import { syntheticSchema } from './quench-schema.js';

/** Where a value sits: the document and the path to it, so every problem is located. */
export interface At {
  doc: SourceDocument;
  path: PropertyKey[];
}
export const at = (base: At, ...more: PropertyKey[]): At => ({ doc: base.doc, path: [...base.path, ...more] });

export interface Parsed {
  kind: OpenSloKind;
  name: string;
  doc: SourceDocument;
  value: { metadata: { name: string; displayName?: string | undefined; labels?: Record<string, string> | undefined }; spec: unknown };
}

export class OpenSloImport {
  readonly problems: Problem[] = [];
  readonly byKind = new Map<OpenSloKind, Map<string, Parsed>>();
  readonly slos: Parsed[] = [];
  /** Where each burn window from an alert condition was written (its condition's spec). */
  readonly windowAt = new Map<BurnWindow, At>();
  /** Documents that failed their schema: checked for the rest of their problems, never imported. */
  readonly partial = new Set<SourceDocument>();

  error(where: At, message: string, severity: Problem['severity'] = 'error'): undefined {
    this.problems.push(where.doc.problem(where.path, message, severity));
    return undefined;
  }

  add(doc: SourceDocument): void {
    const v = doc.value as { apiVersion?: unknown; kind?: unknown };
    if (v.apiVersion !== OPENSLO_V1) {
      this.error(
        { doc, path: ['apiVersion'] },
        `apiVersion ${String(v.apiVersion)} is not supported: Quench reads openslo/v1 (convert older files with \`oslo convert\`)`,
      );
      return;
    }
    const kind = String(v.kind) as OpenSloKind;
    const schema = openSloDocumentSchemas[kind];
    if (!schema) {
      this.error(
        { doc, path: ['kind'] },
        `unknown OpenSLO kind ${String(v.kind)}; expected one of ${Object.keys(openSloDocumentSchemas).join(', ')}`,
      );
      return;
    }
    const parsed = schema.safeParse(doc.value);
    if (!parsed.success) {
      this.problems.push(...sloZodProblems(doc, parsed.error));
      // The semantic checks still run on what parsed, so one `quench validate` reports every
      // problem (issue 15); such an SLO never yields an Slo (importOpenSlo drops its output).
      const raw = doc.value as { metadata?: { name?: unknown }; spec?: unknown };
      if (kind === 'SLO' && isObject(raw.metadata) && isObject(raw.spec)) {
        const name = typeof raw.metadata.name === 'string' ? raw.metadata.name : '(unnamed)';
        this.partial.add(doc);
        this.slos.push({ kind, name, doc, value: raw as Parsed['value'] });
      }
      return;
    }
    const value = parsed.data as Parsed['value'];
    if (kind === 'AlertNotificationTarget')
      this.error(
        { doc, path: ['kind'] },
        'AlertNotificationTarget has no effect: Quench does not notify targets itself; a firing burn alert starts the playbook its routing names (docs/slo.md)',
        'warning',
      );
    if (kind === 'SLO') {
      // SLO names are checked per budget by importSlos, across both formats.
      this.slos.push({ kind, name: value.metadata.name, doc, value });
      return;
    }
    const map = this.byKind.get(kind) ?? new Map<string, Parsed>();
    this.byKind.set(kind, map);
    const previous = map.get(value.metadata.name);
    if (previous) {
      // Real repositories declare one Service (or share one DataSource) in each team's file: the
      // same document twice means the same thing, so only a conflicting one is refused.
      const differs = firstDifference(previous.value, value);
      if (differs === undefined) return;
      const first = previous.doc.positionOf(['metadata', 'name']);
      const field = differs.length > 0 ? differs.map(String).join('.') : 'the document';
      this.error(
        { doc, path: ['metadata', 'name'] },
        `duplicate ${kind} name ${value.metadata.name}, also defined at ${previous.doc.file}:${first.line}:${first.col} with a different ${field}: keep one, or make both the same`,
      );
      return;
    }
    map.set(value.metadata.name, { kind, name: value.metadata.name, doc, value });
  }

  ref(kind: OpenSloKind, name: string, where: At): Parsed | undefined {
    const found = this.byKind.get(kind)?.get(name);
    if (found) return found;
    const known = [...(this.byKind.get(kind)?.keys() ?? [])];
    return this.error(
      where,
      `no ${kind} named ${name}${known.length ? ` (known: ${known.join(', ')})` : ' is defined in the files given'}`,
    );
  }

  /** The source type of a metricSource, resolved through its DataSource when referenced. */
  sourceType(ms: MetricSource, where: At): string | undefined {
    if (ms.metricSourceRef) {
      // With a type of its own the reference may name a DataSource kept elsewhere (as
      // OpenSLO/go-sdk's examples do); without one it must resolve here.
      const ds = ms.type
        ? this.byKind.get('DataSource')?.get(ms.metricSourceRef)
        : this.ref('DataSource', ms.metricSourceRef, at(where, 'metricSourceRef'));
      const dsType = (ds?.value.spec as { type?: string } | undefined)?.type;
      // Both given and different: which one is meant cannot be guessed (and the DataSource's
      // connectionDetails would be read as the other type's).
      if (ms.type && dsType && ms.type.toLowerCase() !== dsType.toLowerCase())
        return this.error(
          at(where, 'type'),
          `metricSource type ${ms.type} differs from the type of DataSource ${ms.metricSourceRef} (${dsType}): give one of them, or the same`,
        );
      return ms.type ?? dsType;
    }
    if (ms.type) return ms.type;
    return this.error(where, 'metricSource: give a type (e.g. Prometheus) or a metricSourceRef to a DataSource');
  }

  /**
   * The endpoint a metricSource reads: its DataSource's connectionDetails, or undefined (then the
   * SLO reads PROMETHEUS_URL). `null`: the connection details are invalid (reported).
   */
  endpoint(ms: MetricSource): DataSourceRef | undefined | null {
    if (!ms.metricSourceRef) return undefined;
    const ds = this.byKind.get('DataSource')?.get(ms.metricSourceRef);
    const spec = ds?.value.spec as { type: string; connectionDetails?: unknown } | undefined;
    if (!ds || !spec || spec.connectionDetails === undefined || spec.connectionDetails === null) return undefined;
    const dAt: At = { doc: ds.doc, path: ['spec', 'connectionDetails'] };
    const parsed = prometheusConnectionSchema.safeParse(spec.connectionDetails);
    if (!parsed.success) {
      this.problems.push(...sloZodProblems(ds.doc, parsed.error, dAt.path));
      return null;
    }
    const c = parsed.data;
    if (c.tenant && c.orgId && c.tenant !== c.orgId) {
      this.error(at(dAt, 'orgId'), 'connectionDetails: give one of tenant and orgId (both set the X-Scope-OrgID header)');
      return null;
    }
    const tenant = c.tenant ?? c.orgId;
    const headers = { ...(c.headers ?? {}), ...(tenant ? { 'X-Scope-OrgID': tenant } : {}) };
    return {
      name: ds.name,
      type: spec.type,
      url: c.url.replace(/\/+$/, '').replace(/\/api\/v1$/, ''),
      ...(Object.keys(headers).length ? { headers } : {}),
    };
  }

  noSli(counter: boolean, where: At, message: string): { counter: boolean } {
    this.error(where, message);
    return { counter };
  }

  prometheusQuery(ms: MetricSource, where: At): string | undefined {
    const spec = ms.spec ?? {};
    for (const key of ['query', 'promql', 'expr']) {
      const q = spec[key];
      if (typeof q === 'string' && q.trim() !== '') return q;
    }
    return this.error(at(where, 'spec'), 'metricSource.spec: a Prometheus source needs spec.query (a PromQL expression)');
  }

  /** The SLI from an OpenSLO indicator; `op`/`value` come from the objective for threshold metrics. */
  sli(
    spec: OpenSloSliSpec,
    where: At,
    objective: { op?: string | undefined; value?: number | undefined },
    objectiveAt: At,
  ): { sli?: Sli; counter: boolean; dataSource?: DataSourceRef } {
    const counter = spec.ratioMetric?.counter ?? true;
    const sources: Array<{ ms: MetricSource; at: At }> = [];
    if (spec.thresholdMetric) sources.push({ ms: spec.thresholdMetric.metricSource, at: at(where, 'thresholdMetric', 'metricSource') });
    for (const part of ['good', 'bad', 'total', 'raw'] as const) {
      const m = spec.ratioMetric?.[part];
      if (m) sources.push({ ms: m.metricSource, at: at(where, 'ratioMetric', part, 'metricSource') });
    }
    if (!spec.thresholdMetric === !spec.ratioMetric)
      return this.noSli(counter, where, 'an indicator needs exactly one of thresholdMetric and ratioMetric');
    const types = sources.map((s) => ({ ...s, type: this.sourceType(s.ms, s.at) }));
    let placeholder = false;
    for (const s of types) {
      if (s.type === undefined) return { counter };
      const t = s.type.toLowerCase();
      if (t === 'any') placeholder = true;
      else if (t === 'synthetic') {
        const parsed = syntheticSchema.safeParse(s.ms.spec ?? {});
        if (!parsed.success) {
          this.problems.push(...sloZodProblems(s.at.doc, parsed.error, [...s.at.path, 'spec']));
          return { counter };
        }
        return { counter, sli: { kind: 'synthetic', source: 'synthetic', script: syntheticScript(parsed.data) } };
      } else if (!PROMETHEUS_COMPATIBLE.has(t)) {
        const field = s.ms.type ? 'type' : 'metricSourceRef';
        return this.noSli(
          counter,
          at(s.at, field),
          `unsupported metric source type ${s.type} in ${[...s.at.path, 'type'].map(String).join('.')}: Quench evaluates Prometheus-compatible sources (Prometheus, Thanos, Mimir, Cortex) and synthetic ones`,
        );
      }
    }
    if (placeholder) {
      this.error(
        at(types[0]!.at, 'type'),
        'metric source type Any is a placeholder: this SLO validates but is not evaluated until a real source (Prometheus) is set',
        'warning',
      );
      return { counter, sli: { kind: 'unevaluable', source: 'none', reason: 'metric source type Any (placeholder)' } };
    }
    // One SLI is one query, so all its metrics must come from one endpoint.
    const endpoints = types.map((s) => ({ ...s, endpoint: this.endpoint(s.ms) }));
    if (endpoints.some((e) => e.endpoint === null)) return { counter };
    const first = endpoints[0]!;
    const other = endpoints.find((e) => (e.endpoint?.name ?? '') !== (first.endpoint?.name ?? ''));
    if (other)
      return this.noSli(
        counter,
        at(other.at, 'metricSourceRef'),
        `the metrics of one indicator read different endpoints (${first.endpoint?.name ?? 'PROMETHEUS_URL'} and ${other.endpoint?.name ?? 'PROMETHEUS_URL'}): Quench reads an SLI with one query, so point them at one DataSource`,
      );
    const dataSource = first.endpoint ?? undefined;
    const r0 = this.prometheusSli(spec, where, objective, objectiveAt, counter);
    return r0.sli && dataSource ? { ...r0, dataSource } : r0;
  }

  /** The Prometheus SLI of an indicator whose sources were checked. */
  prometheusSli(
    spec: OpenSloSliSpec,
    where: At,
    objective: { op?: string | undefined; value?: number | undefined },
    objectiveAt: At,
    counter: boolean,
  ): { sli?: Sli; counter: boolean } {
    const q = (part: 'good' | 'bad' | 'total' | 'raw') =>
      this.prometheusQuery(spec.ratioMetric![part]!.metricSource, at(where, 'ratioMetric', part, 'metricSource'));
    if (spec.thresholdMetric) {
      const query = this.prometheusQuery(spec.thresholdMetric.metricSource, at(where, 'thresholdMetric', 'metricSource'));
      if (!objective.op || objective.value === undefined)
        return this.noSli(counter, objectiveAt, 'a thresholdMetric objective needs op and value');
      return query
        ? { counter, sli: { kind: 'threshold', source: 'prometheus', query, op: objective.op as 'lt', value: objective.value } }
        : { counter };
    }
    const r = spec.ratioMetric!;
    const rAt = at(where, 'ratioMetric');
    if (r.raw) {
      if (r.good || r.bad || r.total) return this.noSli(counter, rAt, 'ratioMetric.raw cannot be combined with good, bad or total');
      if (!r.rawType) return this.noSli(counter, rAt, 'ratioMetric.rawType (success or failure) is required with raw');
      const raw = q('raw');
      if (!raw) return { counter };
      return { counter, sli: { kind: 'raw', source: 'prometheus', errorRatioQuery: r.rawType === 'failure' ? raw : `(1 - (${raw}))` } };
    }
    if (!r.total) return this.noSli(counter, rAt, 'ratioMetric needs total with good or bad (or raw with rawType)');
    if (!r.good === !r.bad) return this.noSli(counter, rAt, 'ratioMetric needs exactly one of good and bad');
    const total = q('total');
    const num = q(r.good ? 'good' : 'bad');
    if (!total || !num) return { counter };
    if (r.counter === true && (readsOwnRange(total) || readsOwnRange(num)))
      this.error(
        at(rAt, 'counter'),
        'counter: true, but the queries read a range of their own (rate(…[5m])): their values are rates, not a counter, so Quench averages them over each window as for counter: false; remove counter or set it to false',
        'warning',
      );
    return {
      counter,
      sli: {
        kind: 'events',
        source: 'prometheus',
        totalQuery: total,
        ...(r.good ? { goodQuery: num } : { errorQuery: num }),
        ...(counter ? {} : { counter }),
      },
    };
  }

  window(slo: OpenSloSlo, where: At): SloWindow | undefined {
    const tw = slo.spec.timeWindow?.[0];
    if (!tw) {
      this.error(
        at(where, 'timeWindow'),
        `spec.timeWindow: not given: read as 30 days rolling (Quench's default period); write timeWindow: [{ duration: 30d, isRolling: true }] to say so`,
        'warning',
      );
      return { kind: 'rolling', ms: DEFAULT_PERIOD_MS };
    }
    const wAt = at(where, 'timeWindow', 0);
    if (slo.spec.timeWindow!.length > 1)
      this.error(at(where, 'timeWindow', 1), 'only one time window is supported; the first is used', 'warning');
    const rolling = tw.isRolling ?? !tw.calendar;
    if (rolling) {
      const ms = parseDuration(tw.duration);
      return ms
        ? { kind: 'rolling', ms }
        : this.error(at(wAt, 'duration'), `duration: expected a duration such as 28d, 4w or 1M, not ${tw.duration}`);
    }
    if (!tw.calendar) return this.error(wAt, 'a calendar window (isRolling: false) needs calendar.startTime and calendar.timeZone');
    let unit = calendarUnit(tw.duration);
    if (!unit && /^\d+m$/.test(tw.duration)) {
      // OpenSLO's own example writes 1m ("minute") for a month-long contract window.
      this.error(
        at(wAt, 'duration'),
        `duration ${tw.duration} means minutes in OpenSLO (months are M); a calendar window of minutes is read as ${tw.duration.replace('m', 'M')}`,
        'warning',
      );
      unit = calendarUnit(tw.duration.replace('m', 'M'));
    }
    if (!unit)
      return this.error(
        at(wAt, 'duration'),
        `duration: a calendar window is whole days, weeks (w), months (M), quarters (Q) or years (Y), not ${tw.duration}`,
      );
    if (!isValidTimeZone(tw.calendar.timeZone))
      return this.error(at(wAt, 'calendar', 'timeZone'), `unknown IANA time zone ${tw.calendar.timeZone}`);
    const start = this.calendarStart(tw.calendar.startTime, tw.calendar.timeZone, at(wAt, 'calendar', 'startTime'));
    return start === undefined ? undefined : { kind: 'calendar', unit: unit.unit, count: unit.count, timeZone: tw.calendar.timeZone, anchor: start };
  }

  /**
   * The wall-clock time in `timeZone` at which the calendar periods start. OpenSLO writes it
   * without a zone (wall-clock time in timeZone); real files also write RFC 3339 with `Z` or an
   * offset, which names an instant: that instant is the first period's start, read on timeZone's
   * clock. When the offset is not timeZone's own at that instant, later periods start at that
   * wall-clock time of timeZone, not at the offset's: said in a warning.
   */
  calendarStart(text: string, timeZone: string, where: At): string | undefined {
    const expected = 'startTime: expected wall-clock time in timeZone, YYYY-MM-DD HH:MM:SS (or RFC 3339 with Z or an offset)';
    const fraction = /\.(\d+)(Z|[+-]\d{2}:?\d{2})?$/i.exec(text.trim());
    if (fraction && /[1-9]/.test(fraction[1]!))
      this.error(where, `startTime ${text}: fractions of a second are dropped; periods start on the whole second`, 'warning');
    const instant = instantOfOffsetTime(text);
    if (instant === undefined) {
      const wall = text.trim().replace(/\.\d+$/, '');
      return parseWallTime(wall) ? wall : this.error(where, expected);
    }
    const wall = wallTimeText(instant, timeZone);
    const written = text.trim().replace(/\.\d+(?=Z|[+-]\d{2}:?\d{2}$)/i, '').replace(/(Z|[+-]\d{2}:?\d{2})$/i, '').replace('T', ' ');
    const seconds = /:\d{2}:\d{2}$/.test(written) ? written : `${written}:00`;
    if (seconds !== wall)
      this.error(
        where,
        `startTime ${text} is ${wall} in ${timeZone} (its offset is not ${timeZone}'s): periods start at ${wall.slice(11)} on ${timeZone}'s clock (the first at exactly ${text}); to start them at ${seconds.slice(11)} ${timeZone} time, write startTime: "${seconds}" without an offset`,
        'warning',
      );
    return wall;
  }

  budgeting(slo: OpenSloSlo, objective: OpenSloSlo['spec']['objectives'][number], oAt: At): Budgeting | undefined {
    const method = slo.spec.budgetingMethod;
    if (method === 'Occurrences') return { method: 'occurrences' };
    // A missing or unknown method is the schema's problem, already reported.
    if (method !== 'Timeslices' && method !== 'RatioTimeslices') return undefined;
    const raw = objective.timeSliceWindow;
    // The spec: "Default interpretation of unit if specified as a number in minutes" (5 is 5m).
    const sliceMs = typeof raw === 'number' ? raw * 60_000 : raw === undefined ? undefined : parseDuration(raw);
    if (raw === undefined) return this.error(oAt, `timeSliceWindow is required for ${method} (e.g. 1m)`);
    if (!sliceMs || sliceMs <= 0)
      return this.error(
        at(oAt, 'timeSliceWindow'),
        `timeSliceWindow: ${String(raw)} is not a duration: write it as 30s, 1m or 5m (a number is minutes)`,
      );
    if (typeof raw === 'number')
      // Quench read a number as seconds before: say how it is read now, and how to be explicit.
      this.error(
        at(oAt, 'timeSliceWindow'),
        `timeSliceWindow: ${raw} is read as ${formatDuration(sliceMs)} (OpenSLO reads a number as minutes); write ${formatDuration(sliceMs)} to say so, or a duration with its unit (30s) for another length`,
        'warning',
      );
    // OpenSLO has no field for the scrape interval: Quench reads the annotation quench.dev/scrape-interval.
    const scrape = slo.metadata.annotations?.[SCRAPE_ANNOTATION];
    const scrapeMs = typeof scrape === 'string' ? parseDuration(scrape) : undefined;
    const range = scrapeMs !== undefined && 2 * scrapeMs > sliceMs ? { rangeMs: 2 * scrapeMs } : {};
    if (method === 'RatioTimeslices') return { method: 'ratioTimeslices', sliceMs, ...range };
    const t = objective.timeSliceTarget;
    if (t === undefined || !(t > 0 && t <= 1))
      return this.error(at(oAt, 'timeSliceTarget'), 'timeSliceTarget in (0, 1] is required for Timeslices');
    return { method: 'timeslices', sliceMs, sliceTarget: t, ...range };
  }

  /**
   * A burn window shorter than two scrapes has no rate and never fires. The scrape interval is
   * the SLO's annotation quench.dev/scrape-interval, else Prometheus' default; the short window
   * is Quench's 1/12 of lookbackWindow (at least 1m), so the message names lookbackWindow.
   */
  scrapesPerWindow(slo: OpenSloSlo, sli: Sli, alerting: Alerting): void {
    if (!readsWindowRanges(sli)) return;
    const annotation = slo.metadata.annotations?.[SCRAPE_ANNOTATION];
    const declared = typeof annotation === 'string' ? parseDuration(annotation) : undefined;
    const scrapeMs = declared ?? DEFAULT_SCRAPE_MS;
    const scrape = declared
      ? `annotation ${SCRAPE_ANNOTATION}`
      : `Prometheus' default scrape interval; annotate the SLO with ${SCRAPE_ANNOTATION} if yours differs`;
    for (const w of alerting.windows) {
      const where = this.windowAt.get(w);
      const ms = Math.min(w.shortMs, w.longMs);
      if (!where || ms >= 2 * scrapeMs) continue;
      const part = w.shortMs < w.longMs ? `the short window of lookbackWindow ${formatDuration(w.longMs)} (1/12 of it, at least 1m)` : 'lookbackWindow';
      this.error(
        at(where, 'condition', 'lookbackWindow'),
        `${part}: ${fewScrapesMessage(ms, scrapeMs, scrape, `write a lookbackWindow of ${formatDuration(24 * scrapeMs)} or more, so that its short window (1/12) is two scrapes long`)}`,
        'warning',
      );
    }
  }

  slo(p: Parsed): Slo[] {
    const slo = p.value as unknown as OpenSloSlo;
    const where: At = { doc: p.doc, path: ['spec'] };
    let indicator: { spec: OpenSloSliSpec; at: At } | undefined;
    if (slo.spec.indicator && slo.spec.indicatorRef)
      this.error(at(where, 'indicatorRef'), 'give one of indicator (inline) and indicatorRef (an SLI document), not both');
    else if (slo.spec.indicator) indicator = { spec: slo.spec.indicator.spec, at: at(where, 'indicator', 'spec') };
    else if (slo.spec.indicatorRef) {
      const sli = this.ref('SLI', slo.spec.indicatorRef, at(where, 'indicatorRef'));
      if (sli) indicator = { spec: sli.value.spec as OpenSloSliSpec, at: { doc: sli.doc, path: ['spec'] } };
    } else this.error(where, 'spec needs an indicator or an indicatorRef');
    // Keep going after a problem, so that one run of `quench validate` reports them all.
    const window = this.window(slo, where);
    const periodMs = window ? nominalPeriodMs(window) : DEFAULT_PERIOD_MS;
    const alerting = openSloAlerting(this, slo, where, periodMs, window);
    const multi = slo.spec.objectives.length > 1;
    const out: Slo[] = [];
    slo.spec.objectives.forEach((objective, i) => {
      const oAt = at(where, 'objectives', i);
      if (objective.indicator || objective.indicatorRef) {
        this.error(oAt, 'composite SLOs (an indicator per objective) are not supported yet');
        return;
      }
      let target = objective.target;
      let ok = true;
      if ((objective.target === undefined) === (objective.targetPercent === undefined)) {
        ok = !!this.error(oAt, 'give exactly one of target (0..1) and targetPercent (0..100)');
      } else {
        if (target === undefined) target = tidy(objective.targetPercent! / 100);
        if (!(target > 0 && target < 1)) {
          const field = objective.target === undefined ? 'targetPercent' : 'target';
          ok = !!this.error(at(oAt, field), targetProblem(field, objective.target ?? objective.targetPercent!, target));
        }
      }
      const budgeting = this.budgeting(slo, objective, oAt);
      const read = indicator ? this.sli(indicator.spec, indicator.at, objective, oAt) : undefined;
      const sli = read?.sli;
      if (sli) this.scrapesPerWindow(slo, sli, alerting);
      if (!ok || !sli || !budgeting || !window || target === undefined) return;
      const label = objective.name ?? objective.displayName;
      const name = multi ? `${p.name}.${(label && slug(label)) || i + 1}` : p.name;
      out.push({
        name,
        ...(slo.metadata.displayName || objective.displayName
          ? {
              displayName:
                [slo.metadata.displayName, multi ? objective.displayName : undefined].filter(Boolean).join(': ') || objective.displayName!,
            }
          : {}),
        service: slo.spec.service,
        ...(slo.spec.description ? { description: slo.spec.description } : {}),
        objective: target,
        window,
        budgeting,
        sli,
        alerting,
        policy: { freezeBelow: 0, freezeAllBelow: null, recoverAbove: 0.05, freezeOnPage: true, freezeWhenExhaustedWithinMs: null, freezeExpiresAfterMs: null },
        labels: slo.metadata.labels ?? {},
        origin: { file: p.doc.file, ...p.doc.positionOf(multi ? ['spec', 'objectives', i] : ['metadata', 'name']), format: 'openslo' },
        ...(read?.dataSource ? { dataSource: read.dataSource } : {}),
      });
    });
    return out;
  }
}

/** Why a target outside (0, 1) cannot be evaluated, in the field's own scale. */
function targetProblem(field: 'target' | 'targetPercent', written: number, target: number): string {
  const expected =
    field === 'target'
      ? `${field}: ${written}: expected a ratio above 0 and below 1 (0.999 is 99.9%)`
      : `${field}: ${written}: expected a percentage above 0 and below 100`;
  if (target === 1) return `${expected}; a 100% target leaves no error budget`;
  if (target > 1) {
    // 99.9 in `target` is a percentage written in the wrong field.
    return field === 'target' && written >= 50 && written < 100
      ? `${expected}; for ${written}% write target: ${tidy(written / 100)} or targetPercent: ${written}`
      : `${expected}; above 100% is more than every event being good`;
  }
  if (target === 0) return `${expected}; a 0% target allows every event to fail, so there is nothing to keep`;
  return `${expected}; a negative target means nothing`;
}

/** Imports every OpenSLO document given together (references resolve across files). */
export function importOpenSlo(docs: SourceDocument[]): { slos: Slo[]; problems: Problem[] } {
  const imp = new OpenSloImport();
  for (const d of docs) imp.add(d);
  const slos = imp.slos.flatMap((p) => (imp.partial.has(p.doc) ? semanticProblemsOnly(imp, p) : imp.slo(p)));
  // A shared SLI is checked once per objective; report each of its problems once.
  const seen = new Set<string>();
  const problems = imp.problems.filter((p) => {
    const key = `${p.file}:${p.line}:${p.col}:${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return { slos, problems };
}

/** The period of an SLO that names no timeWindow (optional in OpenSLO): Sloth's and the SRE workbook's 30 days. */
const DEFAULT_PERIOD_MS = 30 * 86_400_000;

/** OpenSLO has no field for Prometheus' scrape interval: Quench reads this annotation on the SLO. */
const SCRAPE_ANNOTATION = 'quench.dev/scrape-interval';

/** Source types that speak the Prometheus HTTP API (a DataSource's connectionDetails.url picks the endpoint). */
const PROMETHEUS_COMPATIBLE = new Set(['prometheus', 'thanos', 'mimir', 'cortex']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The path of the first place two parsed documents differ (key order aside), or undefined
 * when they are the same. `[]` when they differ at the root.
 */
export function firstDifference(a: unknown, b: unknown, path: PropertyKey[] = []): PropertyKey[] | undefined {
  // A key left out, written empty (`spec:`) or as `{}` says the same.
  const empty = (v: unknown) => v === undefined || v === null || (isObject(v) && Object.keys(v).length === 0);
  if (Object.is(a, b) || (empty(a) && empty(b))) return undefined;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const d = firstDifference(a[i], b[i], [...path, i]);
      if (d) return d;
    }
    return undefined;
  }
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      const d = firstDifference(a[k], b[k], [...path, k]);
      if (d) return d;
    }
    return undefined;
  }
  if (a instanceof Date && b instanceof Date && a.getTime() === b.getTime()) return undefined;
  return path;
}

/**
 * Runs the semantic checks on an SLO document that failed its schema, keeping only problems at
 * places the schema did not already report (a wrong-typed field is reported once, by the
 * schema). The document's shape is unchecked, so a check that trips over it simply stops.
 */
function semanticProblemsOnly(imp: OpenSloImport, p: Parsed): Slo[] {
  const schemaAt = new Set(imp.problems.filter((x) => x.file === p.doc.file).map((x) => `${x.line}:${x.col}`));
  const before = imp.problems.length;
  try {
    imp.slo(p);
  } catch {
    // An unexpected shape: the schema problems already say what to fix.
  }
  const found = imp.problems.splice(before).filter((x) => !(x.file === p.doc.file && schemaAt.has(`${x.line}:${x.col}`)));
  imp.problems.push(...found);
  return [];
}
