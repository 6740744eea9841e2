import type { Problem } from '../../definitions/problem.js';
import type { SourceDocument } from '../../definitions/source.js';
import { calendarUnit, formatDuration, parseDuration } from '../core/duration.js';
import type { Alerting, BurnWindow, Budgeting, Sli, Slo, SloWindow, SyntheticScript } from '../core/model.js';
import { tidy } from '../core/promql.js';
import { CATALOG_PERIODS, catalogWindows } from '../core/windows.js';
import { burnFactor } from '../core/budget.js';
import { nominalPeriodMs } from '../core/calendar.js';
import { DEFAULT_SCRAPE_MS, fewScrapesMessage, leMatcher, readsWindowRanges, sloZodProblems } from './common.js';
import { type BudgetPolicyFields, type QuenchSloFile, quenchSloSchema, type SyntheticSpec } from './quench-schema.js';

/** Turns a validated synthetic spec (Quench's `sli.synthetic`, OpenSLO's `metricSource.spec`) into the core's script. */
export function syntheticScript(spec: SyntheticSpec): SyntheticScript {
  const phases = spec.script
    .map((p) => ({ atMs: p.at === '0' ? 0 : parseDuration(p.at)!, errorRatio: p.errorRatio }))
    .sort((a, b) => a.atMs - b.atMs);
  return {
    requestsPerSecond: spec.requestsPerSecond,
    phases,
    anchor: spec.anchor,
    ...(spec.repeat ? { repeatMs: parseDuration(spec.repeat)! } : {}),
  };
}

const calendarUnits = { week: '1w', month: '1M', quarter: '1Q', year: '1Y' } as const;

function sliOf(file: QuenchSloFile): Sli {
  const { sli } = file;
  if (sli.events) {
    return {
      kind: 'events',
      source: 'prometheus',
      totalQuery: sli.events.totalQuery,
      ...(sli.events.errorQuery ? { errorQuery: sli.events.errorQuery } : { goodQuery: sli.events.goodQuery! }),
    };
  }
  if (sli.raw) return { kind: 'raw', source: 'prometheus', errorRatioQuery: sli.raw.errorRatioQuery };
  if (sli.latency) {
    const { histogram, selector, threshold } = sli.latency;
    const sep = selector.trim() === '' ? '' : ',';
    return {
      kind: 'events',
      source: 'prometheus',
      goodQuery: `sum(rate(${histogram}_bucket{${selector}${sep}le=~"${leMatcher(threshold)}"}[{{window}}]))`,
      totalQuery: `sum(rate(${histogram}_count{${selector}}[{{window}}]))`,
    };
  }
  return { kind: 'synthetic', source: 'synthetic', script: syntheticScript(sli.synthetic!) };
}

function budgetingOf(file: QuenchSloFile): Budgeting {
  const b = file.budgeting;
  if (b === 'occurrences') return { method: 'occurrences' };
  if (b === 'timeslices') return { method: 'timeslices', sliceMs: 60_000, sliceTarget: 0.99, ...sliceRange(60_000, file.sli.scrapeInterval) };
  if (b.method === 'occurrences') return { method: 'occurrences' };
  const sliceMs = parseDuration(b.sliceLength)!;
  const range = sliceRange(sliceMs, file.sli.scrapeInterval);
  return b.method === 'ratioTimeslices'
    ? { method: 'ratioTimeslices', sliceMs, ...range }
    : { method: 'timeslices', sliceMs, sliceTarget: tidy(b.sliceTarget / 100), ...range };
}

/** A slice's rate needs two scrapes: with a declared scrape interval, the range covers at least two. */
function sliceRange(sliceMs: number, scrapeInterval: string | undefined): { rangeMs?: number } {
  const scrapeMs = scrapeInterval === undefined ? undefined : parseDuration(scrapeInterval)!;
  return scrapeMs !== undefined && 2 * scrapeMs > sliceMs ? { rangeMs: 2 * scrapeMs } : {};
}

function windowOf(file: QuenchSloFile): SloWindow {
  if (typeof file.window === 'string') return { kind: 'rolling', ms: parseDuration(file.window)! };
  const unit = calendarUnit(calendarUnits[file.window.calendar])!;
  return { kind: 'calendar', unit: unit.unit, count: unit.count, timeZone: file.window.timeZone };
}

function alertingOf(file: QuenchSloFile, window: SloWindow, periodMs: number): Alerting {
  const a = file.alerting;
  const windows: BurnWindow[] =
    a.windows === 'default'
      ? (catalogWindows(window) ?? [])
      : a.windows.map((w) => {
          const longMs = parseDuration(w.long)!;
          return {
            severity: w.severity,
            longMs,
            shortMs: parseDuration(w.short)!,
            factor: w.factor ?? burnFactor(w.budgetPercent! / 100, periodMs, longMs),
          };
        });
  const forMs = (text: string | number | undefined, fallback: number) =>
    text === undefined ? fallback : text === '0' || text === 0 ? 0 : parseDuration(String(text))!;
  return {
    windows,
    minEvents: a.minEvents,
    tiers: {
      page: {
        severity: 'page',
        enabled: a.enabled && a.page.enabled,
        forMs: forMs(a.page.for, 120_000),
        ...(a.page.playbook ? { playbook: a.page.playbook } : {}),
      },
      ticket: {
        severity: 'ticket',
        enabled: a.enabled && a.ticket.enabled,
        forMs: forMs(a.ticket.for, 900_000),
        ...(a.ticket.playbook ? { playbook: a.ticket.playbook } : {}),
      },
    },
  };
}

/**
 * The playbooks an SLO may name (`alerting.page.playbook`): routing sends a burn to the named
 * playbook only when one of that name is loaded, and otherwise to whichever playbook's triggers
 * match, so a misspelt name must be said at load time. `severity`: an error where the
 * playbooks are read with the SLOs (`quench validate`), a warning where they load on their own
 * (the service reloads them separately); `where` names them in the message.
 */
export interface KnownPlaybooks {
  names: ReadonlySet<string>;
  severity: Problem['severity'];
  where: string;
}

function unknownPlaybooks(doc: SourceDocument, file: QuenchSloFile, known: KnownPlaybooks | undefined): Problem[] {
  if (!known) return [];
  return (['page', 'ticket'] as const).flatMap((tier) => {
    const name = file.alerting[tier].playbook;
    if (name === undefined || known.names.has(name)) return [];
    const names = [...known.names].sort();
    const list = names.length > 8 ? `${names.slice(0, 8).join(', ')}, …` : names.join(', ');
    return [
      doc.problem(
        ['alerting', tier, 'playbook'],
        `alerting.${tier}.playbook: no playbook named ${name} ${known.where}${names.length ? ` (known: ${list})` : ''}: a ${tier} burn would go to whichever playbook's triggers match it instead; check the spelling or add the playbook`,
        known.severity,
      ),
    ];
  });
}

/** `servicePolicy`: the ServicePolicy fields of a service, if one is defined. */
export function importQuenchSlo(
  doc: SourceDocument,
  servicePolicy: (service: string) => BudgetPolicyFields | undefined = () => undefined,
  playbooks?: KnownPlaybooks,
): { slos: Slo[]; problems: Problem[] } {
  const parsed = quenchSloSchema.safeParse(doc.value);
  if (!parsed.success) return { slos: [], problems: sloZodProblems(doc, parsed.error) };
  const file = parsed.data;
  const problems: Problem[] = unknownPlaybooks(doc, file, playbooks);
  const window = windowOf(file);
  const periodMs = nominalPeriodMs(window);
  const alerting = alertingOf(file, window, periodMs);
  if (file.alerting.windows === 'default' && alerting.windows.length === 0 && file.alerting.enabled) {
    // Burn factors belong to a period: stretching another period's would page for nothing or miss pages.
    problems.push(
      doc.problem(
        ['window'],
        `no burn-rate window catalog for this SLO window (catalogs: ${CATALOG_PERIODS}): list alerting.windows with a factor or budgetPercent each, or disable alerting`,
      ),
    );
  }
  alerting.windows.forEach((w, i) => {
    if (w.shortMs >= w.longMs)
      problems.push(doc.problem(['alerting', 'windows', i, 'short'], 'the short window must be shorter than the long window'));
    if (w.longMs > periodMs)
      problems.push(doc.problem(['alerting', 'windows', i, 'long'], 'the long window is longer than the SLO window'));
  });
  const budgeting = budgetingOf(file);
  if (budgeting.method !== 'occurrences' && budgeting.sliceMs < 120_000 && !file.sli.scrapeInterval && !file.sli.synthetic) {
    // At Prometheus' default 60 s scrape a 1-minute slice holds one sample: no rate, every slice empty.
    problems.push(
      doc.problem(
        ['budgeting'],
        "slices shorter than 2m hold fewer than two scrapes at Prometheus' default 60 s scrape interval, and a slice without two samples has no rate: declare sli.scrapeInterval (the slice's range then covers at least two scrapes) or use slices of 2m or more",
        'warning',
      ),
    );
  }
  const sli = sliOf(file);
  if (readsWindowRanges(sli)) {
    const declared = file.sli.scrapeInterval;
    const scrapeMs = declared ? parseDuration(declared)! : DEFAULT_SCRAPE_MS;
    const scrape = declared ? 'sli.scrapeInterval' : "Prometheus' default scrape interval; declare sli.scrapeInterval if yours differs";
    alerting.windows.forEach((w, i) => {
      if (!alerting.tiers[w.severity].enabled) return;
      for (const edge of ['short', 'long'] as const) {
        const ms = edge === 'short' ? w.shortMs : w.longMs;
        if (ms >= 2 * scrapeMs) continue;
        const own = file.alerting.windows !== 'default';
        problems.push(
          doc.problem(
            own ? ['alerting', 'windows', i, edge] : ['sli', 'scrapeInterval'],
            fewScrapesMessage(
              ms,
              scrapeMs,
              scrape,
              `make ${edge} at least ${formatDuration(2 * scrapeMs)}${own ? '' : ' (list alerting.windows: the default catalog\'s shortest window is 5m)'}`,
            ),
            'warning',
          ),
        );
        break;
      }
    });
  }
  const slo: Slo = {
    name: file.metadata.name,
    ...(file.metadata.displayName ? { displayName: file.metadata.displayName } : {}),
    service: file.service,
    ...(file.metadata.description ? { description: file.metadata.description } : {}),
    ...(file.owner ? { owner: file.owner } : {}),
    objective: tidy(file.objective / 100),
    window,
    budgeting,
    sli,
    alerting,
    policy: budgetPolicyOf(file.budgetPolicy, servicePolicy(file.service)),
    labels: file.metadata.labels,
    origin: { file: doc.file, ...doc.positionOf(['metadata', 'name']), format: 'quench' },
  };
  return { slos: problems.some((p) => p.severity !== 'warning') ? [] : [slo], problems };
}

/**
 * Percent in the file, ratios in the model; each field from the SLO, else from its service's
 * ServicePolicy, else the default (Google's error budget policy, docs/gate.md).
 */
export function budgetPolicyOf(own: BudgetPolicyFields | undefined, service?: BudgetPolicyFields): Slo['policy'] {
  const pick = <K extends keyof BudgetPolicyFields>(k: K): BudgetPolicyFields[K] => own?.[k] ?? service?.[k];
  const freezeBelow = (pick('freezeBelow') ?? 0) / 100;
  const freezeAllBelow = pick('freezeAllBelow');
  const recoverAbove = pick('recoverAbove');
  const within = pick('freezeWhenExhaustedWithin');
  const expires = pick('freezeExpiresAfter');
  return {
    freezeBelow,
    freezeAllBelow: freezeAllBelow === undefined ? null : freezeAllBelow / 100,
    recoverAbove: recoverAbove === undefined ? tidy(freezeBelow + 0.05) : Math.max(freezeBelow, recoverAbove / 100),
    freezeOnPage: pick('freezeOnPage') ?? true,
    freezeWhenExhaustedWithinMs: within === undefined ? null : (parseDuration(within) ?? null),
    freezeExpiresAfterMs: expires === undefined ? null : (parseDuration(expires) ?? null),
  };
}
