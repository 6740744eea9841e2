import { z } from 'zod';
import type { Problem } from '../../definitions/problem.js';
import type { SourceDocument } from '../../definitions/source.js';
import type { Alerting, Severity, Slo } from '../core/model.js';
import { hasWindowTemplate, tidy } from '../core/promql.js';
import { catalogWindows } from '../core/windows.js';
import { ratioInPercentField, sloZodProblems } from './common.js';
import { budgetPolicyOf } from './quench-import.js';
import type { BudgetPolicyFields } from './quench-schema.js';
import {
  camelKeys,
  SLOTH_CRD_API_VERSION,
  SLOTH_VERSION,
  type SlothKeys,
  type SlothSlo,
  slothCrdSchema,
  slothSpecSchema,
  snakeKeys,
} from './sloth-schema.js';

/**
 * Sloth files as they are (the plain `prometheus/v1` spec and the PrometheusServiceLevel CRD),
 * each SLO becoming one Quench budget with Sloth's meaning:
 *
 * - name `<service>-<slo>` (Sloth's `sloth_id`, unique across services), `sloth_slo` the SLO's own;
 * - a 30-day rolling window (Sloth's default `--default-slo-period`) and its google-30d windows;
 * - labels: the service's, then the SLO's (Sloth merges them the same way into every rule);
 * - no `for` and no low-traffic guard on the alerts, as Sloth generates them.
 *
 * What Sloth runs as Go code (SLI and SLO plugins) cannot be mapped and is refused at its key.
 */
const SLOTH_PERIOD_MS = 30 * 86_400_000;

export function isSlothSpec(v: { version?: unknown }): boolean {
  return v.version === SLOTH_VERSION;
}

/** Sloth's `AlertWindows` catalog (`--slo-period-windows-path`): claimed so that it is refused clearly. */
export const isSlothAlertWindows = (v: { apiVersion?: unknown; kind?: unknown }) =>
  v.apiVersion === SLOTH_CRD_API_VERSION && v.kind === 'AlertWindows';

export function refuseSlothAlertWindows(doc: SourceDocument): Problem {
  return doc.problem(
    ['kind'],
    "kind AlertWindows: Sloth's window catalogs are not read; Sloth files take the 30-day google catalog. For other periods or windows, write the SLO in Quench's format with alerting.windows (docs/slo.md)",
  );
}

/**
 * A key in the other form's spelling (`page_alert` in the CRD, as Sloth's own
 * plugin-k8s-getting-started.yml writes it; `pageAlert` in a prometheus/v1 file) is said as
 * such, with the key to write; in the CRD Kubernetes prunes fields its schema does not define,
 * so Sloth never reads them either. Other issues are reported as usual.
 */
function otherFormKeys(doc: SourceDocument, error: z.ZodError, crd: boolean): Problem[] {
  const mine: SlothKeys = crd ? camelKeys : snakeKeys;
  const other: SlothKeys = crd ? snakeKeys : camelKeys;
  const rename = new Map<PropertyKey, string>(Object.entries(other).map(([k, v]) => [v, mine[k as keyof SlothKeys]]));
  const generic = (issue: z.core.$ZodIssue) => sloZodProblems(doc, new z.ZodError([issue]));
  return error.issues.flatMap((issue) => {
    if (issue.code !== 'unrecognized_keys') return generic(issue);
    const unknown = issue.keys.filter((key) => !rename.has(key));
    return [
      ...issue.keys
        .filter((key) => rename.has(key))
        .map((key) => {
          const path = [...issue.path, key];
          return doc.problem(
            path,
            crd
              ? `${path.map(String).join('.')}: ${key} is the plain spec's spelling; the PrometheusServiceLevel CRD writes ${rename.get(key)!} (Kubernetes drops fields the CRD does not define, so Sloth never reads ${key})`
              : `${path.map(String).join('.')}: ${key} is the CRD's spelling; a ${SLOTH_VERSION} file writes ${rename.get(key)!}`,
          );
        }),
      ...(unknown.length > 0 ? generic({ ...issue, keys: unknown }) : []),
    ];
  });
}

export function importSloth(
  doc: SourceDocument,
  servicePolicy: (service: string) => BudgetPolicyFields | undefined = () => undefined,
): { slos: Slo[]; problems: Problem[] } {
  const crd = (doc.value as { apiVersion?: unknown }).apiVersion === SLOTH_CRD_API_VERSION;
  const keys: SlothKeys = crd ? camelKeys : snakeKeys;
  const base: PropertyKey[] = crd ? ['spec'] : [];
  const parsed = crd ? slothCrdSchema.safeParse(doc.value) : slothSpecSchema.safeParse(doc.value);
  if (!parsed.success) return { slos: [], problems: otherFormKeys(doc, parsed.error, crd) };
  const spec = 'spec' in parsed.data ? parsed.data.spec : parsed.data;
  const problems: Problem[] = [];
  if (spec.sloPlugins !== undefined)
    problems.push(
      doc.problem(
        [...base, keys.sloPlugins],
        `${keys.sloPlugins}: Sloth SLO plugins are Go code run by Sloth and cannot be mapped; remove them (Quench generates its own rules: 'quench slo rules')`,
      ),
    );
  const slos: Slo[] = [];
  spec.slos.forEach((s, i) => {
    const at = (...path: PropertyKey[]) => [...base, 'slos', i, ...path];
    const own: Problem[] = [];
    if (s.plugins !== undefined)
      own.push(doc.problem(at('plugins'), 'plugins: Sloth SLO plugins are Go code run by Sloth and cannot be mapped; remove them'));
    if (s.sli.plugin)
      own.push(
        doc.problem(
          at('sli', 'plugin'),
          `sli.plugin (${s.sli.plugin.id}): Sloth SLI plugins are Go code that build the queries inside Sloth and cannot be mapped; write the queries they produce as sli.events (${keys.errorQuery}, ${keys.totalQuery}) or sli.raw (${keys.errorRatioQuery})`,
        ),
      );
    if (s.objective >= 100)
      own.push(doc.problem(at('objective'), 'objective: 100 leaves no error budget to evaluate; use a target below 100 (e.g. 99.99)'));
    // Sloth itself takes 0.999 as 0.999%, so the file runs as written; say what it means.
    const ratio = ratioInPercentField(s.objective);
    if (ratio) problems.push(doc.problem(at('objective'), `objective: ${ratio}`, 'warning'));
    const queries = s.sli.events
      ? [
          ['events', keys.errorQuery, s.sli.events.errorQuery],
          ['events', keys.totalQuery, s.sli.events.totalQuery],
        ]
      : s.sli.raw
        ? [['raw', keys.errorRatioQuery, s.sli.raw.errorRatioQuery]]
        : [];
    for (const [kind, key, q] of queries)
      if (!hasWindowTemplate(q!))
        // Sloth renders the query once per window; without the template every window reads the same range.
        own.push(doc.problem(at('sli', kind!, key!), `sli.${kind}.${key}: expected the window template {{.window}} in the range, e.g. rate(x[{{.window}}])`));
    problems.push(...own);
    if (own.length > 0 || problems.some((p) => p.severity === 'error')) return;
    slos.push(sloOf(doc, spec.service, spec.labels, s, at, crd ? SLOTH_CRD_API_VERSION : SLOTH_VERSION, servicePolicy));
  });
  return { slos: problems.some((p) => p.severity === 'error') ? [] : slos, problems };
}

function alertingOf(s: SlothSlo): Alerting {
  const tier = (severity: Severity) => ({ severity, enabled: !(s.alerting?.[severity]?.disable ?? false), forMs: 0 });
  return { windows: catalogWindows({ kind: 'rolling', ms: SLOTH_PERIOD_MS })!, minEvents: 0, tiers: { page: tier('page'), ticket: tier('ticket') } };
}

function sloOf(
  doc: SourceDocument,
  service: string,
  serviceLabels: Record<string, string>,
  s: SlothSlo,
  at: (...p: PropertyKey[]) => PropertyKey[],
  spec: string,
  servicePolicy: (service: string) => BudgetPolicyFields | undefined,
): Slo {
  const a = s.alerting;
  const perTier = (pick: 'labels' | 'annotations') =>
    Object.fromEntries((['page', 'ticket'] as const).map((t) => [t, { ...(a?.[pick] ?? {}), ...(a?.[t]?.[pick] ?? {}) }]));
  return {
    name: `${service}-${s.name}`,
    service,
    ...(s.description ? { description: s.description } : {}),
    objective: tidy(s.objective / 100),
    window: { kind: 'rolling', ms: SLOTH_PERIOD_MS },
    budgeting: { method: 'occurrences' },
    sli: s.sli.events
      ? { kind: 'events', source: 'prometheus', errorQuery: s.sli.events.errorQuery, totalQuery: s.sli.events.totalQuery }
      : { kind: 'raw', source: 'prometheus', errorRatioQuery: s.sli.raw!.errorRatioQuery },
    alerting: alertingOf(s),
    policy: budgetPolicyOf(undefined, servicePolicy(service)),
    labels: { ...serviceLabels, ...s.labels },
    origin: { file: doc.file, ...doc.positionOf(at('name')), format: 'sloth' },
    rules: {
      slo: s.name,
      spec,
      ...(a?.name ? { alertName: a.name } : {}),
      alertLabels: perTier('labels'),
      alertAnnotations: perTier('annotations'),
    },
  };
}
