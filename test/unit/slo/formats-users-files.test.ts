import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatProblem } from '../../../src/definitions/problem.js';
import { parseYamlSource, readYamlFile } from '../../../src/definitions/source.js';
import { validateDocuments } from '../../../src/definitions/validators.js';
import { windowBounds } from '../../../src/slo/core/calendar.js';
import { importSlos, loadSlos } from '../../../src/slo/definitions.js';

/**
 * Real users' SLO files, as a review of the format readers found them refused or misread:
 * burn-rate operators, a Service declared in every team's file, metadata on every kind, a
 * playbook named by an SLO, calendar starts with an offset, windows shorter than two scrapes.
 */
const users = join(import.meta.dirname, '../../fixtures/openslo-users');
const repo = join(import.meta.dirname, '../../..');

function importText(text: string, file = 'x.yaml') {
  return importSlos(parseYamlSource(file, text).documents);
}

const lines = (problems: Parameters<typeof formatProblem>[0][]) => problems.map(formatProblem);

/** An OpenSLO SLO over a templated Prometheus ratio; `extra` goes under metadata, `spec` at the end of spec. */
function openSlo(extra = '', spec = '', timeWindow = '[{ duration: 28d, isRolling: true }]') {
  return `apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout
${extra}
spec:
  service: checkout
  budgetingMethod: Occurrences
  objectives: [{ target: 0.999 }]
  timeWindow: ${timeWindow}
  indicator:
    spec:
      ratioMetric:
        bad: { metricSource: { type: Prometheus, spec: { query: 'sum(rate(http_requests_total{code=~"5.."}[{{window}}]))' } } }
        total: { metricSource: { type: Prometheus, spec: { query: 'sum(rate(http_requests_total[{{window}}]))' } } }
${spec}`;
}

const policy = (condition: string) => `  alertPolicies:
    - kind: AlertPolicy
      metadata: { name: burn }
      spec:
        conditions:
          - kind: AlertCondition
            metadata: { name: fast }
            spec:
              severity: page
              condition: ${condition}`;

describe('OpenSLO burn-rate conditions: op', () => {
  it('lte and lt are refused at op with what they would mean and what to write, as the spec README writes its own example', () => {
    // The OpenSLO README's AlertCondition example, as users copy it: `op: lte` for a burn that "exceeds 2".
    const readme = `apiVersion: openslo/v1
kind: AlertCondition
metadata:
  name: cpu-usage-breach
  displayName: CPU usage breach
spec:
  description: If the CPU usage is too high for given period then it should alert
  severity: page
  condition:
    kind: burnrate
    op: lte
    threshold: 2
    lookbackWindow: 1h
    alertAfter: 5m
`;
    const slo = `${openSlo('', '  alertPolicies: [{ alertPolicyRef: p }]')}
---
apiVersion: openslo/v1
kind: AlertPolicy
metadata: { name: p }
spec: { conditions: [{ conditionRef: cpu-usage-breach }] }
`;
    const { problems } = importSlos([...parseYamlSource('condition.yaml', readme).documents, ...parseYamlSource('slo.yaml', slo).documents]);
    expect(lines(problems)).toEqual([
      'condition.yaml:11:5: op: lte alerts while the burn rate is at or below 2, while the error budget is safe, and never while it burns (the OpenSLO README\'s own example writes op: lte for a burn rate that "exceeds 2"; Quench does not guess which was meant): to alert when the budget burns, write op: gte (at or above 2) or op: gt (above 2)',
    ]);
    const lt = importText(openSlo('', policy('{ kind: burnrate, op: lt, threshold: 6, lookbackWindow: 6h }'))).problems;
    expect(lines(lt)).toEqual([expect.stringMatching(/^x\.yaml:25:44: op: lt alerts while the burn rate is below 6, .* write op: gte \(at or above 6\) or op: gt \(above 6\)$/)]);
  });

  it('a condition without op (the v1 README before op was added) or kind alerts above its threshold; gte keeps ≥', () => {
    const none = importText(openSlo('', policy('{ threshold: 14.4, lookbackWindow: 1h, alertAfter: 2m }')));
    expect(lines(none.problems)).toEqual([]);
    expect(none.slos[0]!.alerting.windows).toEqual([{ severity: 'page', longMs: 3_600_000, shortMs: 300_000, factor: 14.4 }]);
    const gte = importText(openSlo('', policy('{ kind: burnrate, op: gte, threshold: 14.4, lookbackWindow: 1h }')));
    expect(gte.slos[0]!.alerting.windows).toEqual([{ severity: 'page', longMs: 3_600_000, shortMs: 300_000, factor: 14.4, op: 'gte' }]);
    const typo = importText(openSlo('', policy('{ kind: burnrate, op: ge, threshold: 14.4, lookbackWindow: 1h }')));
    expect(lines(typo.problems)).toEqual(['x.yaml:25:44: spec.alertPolicies.0.spec.conditions.0.spec.condition.op: expected gt or gte (or no op: above the threshold), not ge']);
  });
});

describe('OpenSLO documents declared in more than one file', () => {
  it('the same Service (and metadata on every kind: displayName, annotations, list-valued labels) in two teams\' files loads', () => {
    const { slos, problems } = loadSlos([join(users, 'team-a.yaml'), join(users, 'team-b.yaml')]);
    expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(slos.map((s) => s.name)).toEqual(['checkout-availability', 'checkout-latency']);
    expect(slos[0]!.labels).toEqual({ team: 'payments,checkout' });
  });

  it('a conflicting Service is refused at its name, with file:line:col of both and the field that differs', () => {
    const { problems } = loadSlos([join(users, 'team-a.yaml'), join(users, 'conflicting-service.yaml')]);
    expect(lines(problems)).toEqual([
      `${join(users, 'conflicting-service.yaml')}:5:3: duplicate Service name checkout, also defined at ${join(users, 'team-a.yaml')}:5:3 with a different spec.description: keep one, or make both the same`,
    ]);
  });

  it('an identical DataSource twice loads (and a Service with spec left out, empty or {}); one of another type is refused', () => {
    const ds = (type: string) => `apiVersion: openslo/v1\nkind: DataSource\nmetadata: { name: prom }\nspec: { type: ${type} }\n`;
    const twice = importSlos([...parseYamlSource('a.yaml', ds('Prometheus')).documents, ...parseYamlSource('b.yaml', ds('Prometheus')).documents]);
    expect(twice.problems).toEqual([]);
    const service = (spec: string) => `apiVersion: openslo/v1\nkind: Service\nmetadata: { name: checkout }\n${spec}`;
    const empty = importSlos(['spec:\n', 'spec: {}\n', ''].flatMap((spec, i) => parseYamlSource(`s${i}.yaml`, service(spec)).documents));
    expect(empty.problems).toEqual([]);
    const other = importSlos([...parseYamlSource('a.yaml', ds('Prometheus')).documents, ...parseYamlSource('b.yaml', ds('Thanos')).documents]);
    expect(lines(other.problems)).toEqual(['b.yaml:3:13: duplicate DataSource name prom, also defined at a.yaml:3:13 with a different spec.type: keep one, or make both the same']);
  });
});

describe('alerting.<tier>.playbook names a playbook', () => {
  const slo = (playbook: string) => `apiVersion: quench/v1
kind: SLO
metadata: { name: checkout-availability }
service: checkout
objective: 99.9
sli: { events: { errorQuery: 'sum(rate(e[{{window}}]))', totalQuery: 'sum(rate(t[{{window}}]))' } }
alerting:
  page: { for: 2m, playbook: ${playbook} }
`;
  const playbooks = readYamlFile(join(repo, 'playbooks/checkout.yaml')).documents;

  it('quench validate with the playbooks: an unknown name is an error at the field, naming the known ones', () => {
    const problems = validateDocuments([...parseYamlSource('slo.yaml', slo('checkout-fast-brun')).documents, ...playbooks]);
    expect(lines(problems)).toEqual([
      "slo.yaml:8:20: alerting.page.playbook: no playbook named checkout-fast-brun among the playbooks given (known: checkout-fast-burn): a page burn would go to whichever playbook's triggers match it instead; check the spelling or add the playbook",
    ]);
    expect(validateDocuments([...parseYamlSource('slo.yaml', slo('checkout-fast-burn')).documents, ...playbooks])).toEqual([]);
  });

  it('SLO files validated alone cannot be checked; the service, loading playbooks on their own, warns', () => {
    expect(validateDocuments(parseYamlSource('slo.yaml', slo('checkout-fast-brun')).documents)).toEqual([]);
    const loaded = importSlos(parseYamlSource('slo.yaml', slo('checkout-fast-brun')).documents, {
      playbooks: { names: new Set(['checkout-fast-burn']), severity: 'warning', where: 'loaded from ./playbooks' },
    });
    expect(loaded.slos).toHaveLength(1);
    expect(lines(loaded.problems)).toEqual([
      "slo.yaml:8:20: warning: alerting.page.playbook: no playbook named checkout-fast-brun loaded from ./playbooks (known: checkout-fast-burn): a page burn would go to whichever playbook's triggers match it instead; check the spelling or add the playbook",
    ]);
  });

  it("the repository's own slo/ and playbooks/ validate together", () => {
    const docs = [join(repo, 'slo'), join(repo, 'playbooks')].flatMap((dir) => loadDir(dir));
    expect(validateDocuments(docs).filter((p) => p.severity === 'error')).toEqual([]);
  });
});

function loadDir(dir: string) {
  return ['checkout.yaml', 'demo.yaml', 'payments-api.yaml'].flatMap((f) => readYamlFile(join(dir, f)).documents);
}

describe('OpenSLO calendar startTime with an offset', () => {
  const calendar = (startTime: string, timeZone: string) => `[{ duration: 1M, calendar: { startTime: "${startTime}", timeZone: ${timeZone} } }]`;

  it('names an instant: the periods start there, on timeZone\'s clock, and a differing offset says what was read', () => {
    const { slos, problems } = importText(openSlo('', '', calendar('2026-01-01T12:00:00+02:00', 'UTC')));
    // Before: the offset was cut off and the periods started at 12:00 UTC, two hours late.
    expect(slos[0]!.window).toEqual({ kind: 'calendar', unit: 'M', count: 1, timeZone: 'UTC', anchor: '2026-01-01 10:00:00' });
    expect(windowBounds(slos[0]!.window, Date.parse('2026-03-15T00:00:00Z'))).toEqual({
      startMs: Date.parse('2026-03-01T10:00:00Z'),
      endMs: Date.parse('2026-04-01T10:00:00Z'),
    });
    expect(lines(problems)).toEqual([
      'x.yaml:10:44: warning: startTime 2026-01-01T12:00:00+02:00 is 2026-01-01 10:00:00 in UTC (its offset is not UTC\'s): periods start at 10:00:00 on UTC\'s clock (the first at exactly 2026-01-01T12:00:00+02:00); to start them at 12:00:00 UTC time, write startTime: "2026-01-01 12:00:00" without an offset',
    ]);
  });

  it('an offset that is timeZone\'s own, or Z in UTC, is read without a warning; a non-midnight time is kept across DST', () => {
    const berlin = importText(openSlo('', '', calendar('2026-01-15T06:30:00+01:00', 'Europe/Berlin')));
    expect(berlin.problems).toEqual([]);
    expect(berlin.slos[0]!.window).toMatchObject({ anchor: '2026-01-15 06:30:00', timeZone: 'Europe/Berlin' });
    // In summer Berlin is at +02:00: the period still starts at 06:30 wall-clock time.
    expect(windowBounds(berlin.slos[0]!.window, Date.parse('2026-07-20T00:00:00Z')).startMs).toBe(Date.parse('2026-07-15T04:30:00Z'));
    const utc = importText(openSlo('', '', calendar('2026-01-01T00:00:00.000Z', 'UTC')));
    expect(utc.problems).toEqual([]);
    expect(utc.slos[0]!.window).toMatchObject({ anchor: '2026-01-01 00:00:00' });
  });

  it('what is not a time is refused at the field, saying which forms are read', () => {
    const { problems } = importText(openSlo('', '', calendar('next monday', 'UTC')));
    expect(lines(problems)).toEqual([
      'x.yaml:10:44: startTime: expected wall-clock time in timeZone, YYYY-MM-DD HH:MM:SS (or RFC 3339 with Z or an offset)',
    ]);
  });
});

describe('alert windows shorter than two scrapes', () => {
  const quench = (windows: string, scrape = '') => `apiVersion: quench/v1
kind: SLO
metadata: { name: checkout }
service: checkout
objective: 99.9
sli:
  ${scrape}
  events: { errorQuery: 'sum(rate(e[{{window}}]))', totalQuery: 'sum(rate(t[{{window}}]))' }
alerting:
  windows: ${windows}
`;

  it('Quench format: a 1m window at the default 60 s scrape warns at the window, saying what to change', () => {
    const { slos, problems } = importText(quench('[{ severity: page, long: 1h, short: 1m, factor: 14.4 }]'));
    expect(slos).toHaveLength(1);
    expect(lines(problems)).toEqual([
      "x.yaml:10:41: warning: a 1m window holds fewer than two scrapes of 1m (Prometheus' default scrape interval; declare sli.scrapeInterval if yours differs): a rate over it has no value at most evaluations, and a window without data holds the alert state, so this window set can hardly fire; make short at least 2m",
    ]);
    // Declared 30 s scrapes: two fit in a minute.
    expect(importText(quench('[{ severity: page, long: 1h, short: 1m, factor: 14.4 }]', 'scrapeInterval: 30s')).problems).toEqual([]);
  });

  it('Quench format: a declared scrape interval too long for the default catalog warns at scrapeInterval', () => {
    const { problems } = importText(quench('default', 'scrapeInterval: 5m'));
    expect(lines(problems)).toEqual([
      "x.yaml:7:3: warning: a 5m window holds fewer than two scrapes of 5m (sli.scrapeInterval): a rate over it has no value at most evaluations, and a window without data holds the alert state, so this window set can hardly fire; make short at least 10m (list alerting.windows: the default catalog's shortest window is 5m)",
    ]);
  });

  it('OpenSLO: a lookbackWindow whose short window (1/12) is one scrape warns at lookbackWindow; the scrape annotation or a synthetic SLI does not', () => {
    const short = policy('{ kind: burnrate, op: gt, threshold: 14.4, lookbackWindow: 10m }');
    expect(lines(importText(openSlo('', short)).problems)).toEqual([
      "x.yaml:25:69: warning: the short window of lookbackWindow 10m (1/12 of it, at least 1m): a 1m window holds fewer than two scrapes of 1m (Prometheus' default scrape interval; annotate the SLO with quench.dev/scrape-interval if yours differs): a rate over it has no value at most evaluations, and a window without data holds the alert state, so this window set can hardly fire; write a lookbackWindow of 24m or more, so that its short window (1/12) is two scrapes long",
    ]);
    expect(importText(openSlo('  annotations: { quench.dev/scrape-interval: 30s }', short)).problems).toEqual([]);
    const synthetic = openSlo('', short).replace(
      /ratioMetric:[\s\S]*?(?=\n {2}alertPolicies)/,
      "ratioMetric: { raw: { metricSource: { type: synthetic, spec: { script: [{ at: '0', errorRatio: 0.001 }] } } }, rawType: failure }",
    );
    expect(importText(synthetic).problems).toEqual([]);
  });

  it('queries that read their own range (averaged over each window) are not warned', () => {
    const own = openSlo('', policy('{ kind: burnrate, op: gt, threshold: 14.4, lookbackWindow: 10m }')).replaceAll('[{{window}}]', '[5m]');
    expect(importText(own).problems).toEqual([]);
  });
});

describe('OpenSLO timeSliceWindow written as a number', () => {
  it('is minutes, as the spec says ("5, 1m, 10m … a number in minutes"), with a warning saying how it is read', () => {
    const text = openSlo()
      .replace('budgetingMethod: Occurrences', 'budgetingMethod: Timeslices')
      .replace('objectives: [{ target: 0.999 }]', 'objectives: [{ target: 0.999, timeSliceTarget: 0.95, timeSliceWindow: 5 }]');
    const { slos, problems } = importText(text);
    // Before: 5 seconds, slices far shorter than any scrape.
    expect(slos[0]!.budgeting).toEqual({ method: 'timeslices', sliceMs: 300_000, sliceTarget: 0.95 });
    expect(lines(problems)).toEqual([
      'x.yaml:9:56: warning: timeSliceWindow: 5 is read as 5m (OpenSLO reads a number as minutes); write 5m to say so, or a duration with its unit (30s) for another length',
    ]);
  });
});
