import { z } from 'zod';
import type { Problem } from '../../definitions/problem.js';
import type { SourceDocument } from '../../definitions/source.js';
import { formatDuration } from '../core/duration.js';
import type { Sli } from '../core/model.js';
import { tidy } from '../core/numbers.js';
import { hasWindowTemplate, readsOwnRange } from '../core/promql.js';

/** A readable budget name part from a display name: "Good experience" → "good-experience". */
export function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63);
}

/**
 * What a percentage field holding a ratio means (`0.999`, as OpenSLO writes targets): read as
 * it stands it is a 99% error budget that never alerts. Undefined for a plausible percentage.
 */
export function ratioInPercentField(v: number): string | undefined {
  if (!(v > 0 && v <= 1)) return undefined;
  const meant = v < 1 ? `; for ${tidy(v * 100)}% write ${tidy(v * 100)}` : '';
  return `${v} is read as ${v}%: this field is a percentage (99.9 for 99.9%)${meant}`;
}

/** Go-style regex for a histogram `le` value, matching both `0.5` and `0.50`, `1` and `1.0`. */
export function leMatcher(threshold: number): string {
  const text = String(threshold);
  const escaped = text.replace(/\./g, '\\\\.');
  return text.includes('.') ? `${escaped}0*` : `${escaped}(\\\\.0+)?`;
}

/** What a YAML value is, for messages: `a list`, `null`, `an object`. */
function kindOf(v: unknown): string {
  if (v === null || v === undefined) return 'null (an empty value)';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return typeof v === 'object' ? 'a mapping' : `a ${typeof v}`;
}

/**
 * The one rule for label (and annotation) values, where the upstream tool reads YAML scalars as
 * text: Sloth's plain spec (Go yaml.v2 decodes `tier: 2` into a string as "2"), OpenSLO and
 * Quench's own format. A number or boolean becomes its text (`String(value)`: YAML's `0.20` is
 * "0.2", `1.0` is "1"; quote a value to keep its spelling); a mapping, list or empty value is an
 * error, never silently stringified.
 */
export const labelValue = z
  .union([z.string(), z.number(), z.boolean()], {
    error: (issue) => `expected a label value: text, a number or a boolean (taken as its text), not ${kindOf(issue.input)}`,
  })
  .transform((v) => String(v));

export const labelsSchema = z.record(z.string(), labelValue);

/** OpenSLO also allows a list of values per label: it becomes one value, comma-separated. */
export const openSloLabelsSchema = z.record(
  z.string(),
  z.union([labelValue, z.array(labelValue).transform((values) => values.join(','))], {
    error: (issue) => `expected a label value: text, a number, a boolean or a list of them, not ${kindOf(issue.input)}`,
  }),
);

/**
 * Kubernetes resources (Pyrra's ServiceLevelObjective, Sloth's PrometheusServiceLevel): their
 * labels and annotations are `map[string]string`, and the API server (as Pyrra's and Sloth's
 * own decoders) refuses `tier: 2`, so Quench does too, saying how to write it.
 */
export const kubernetesLabelsSchema = z.record(
  z.string(),
  z.string({
    error: (issue) =>
      typeof issue.input === 'number' || typeof issue.input === 'boolean'
        ? `expected a string: Kubernetes label and annotation values are strings; quote it ("${String(issue.input)}")`
        : `expected a string, not ${kindOf(issue.input)}`,
  }),
);

/**
 * zod issues as located problems, friendlier than the shared helper for hand-written files: an
 * unknown key is reported at the key itself (a typo's line), and a missing field says so.
 */
export function sloZodProblems(doc: SourceDocument, error: z.ZodError, prefix: PropertyKey[] = []): Problem[] {
  return issueProblems(doc, error.issues, prefix);
}

const isMissing = (i: z.core.$ZodIssue) => i.code === 'invalid_type' && /received undefined/.test(i.message);

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const key of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[key] : undefined;
  return v;
}

/**
 * A union branch the value was not meant for fails at its root on the value's type or literal,
 * or only on fields the value does not have: an inline OpenSLO policy has no `alertPolicyRef`,
 * a reference no `kind` and `spec`, so the branch whose fields are there is the one to report.
 */
function notMeant(branch: readonly z.core.$ZodIssue[], value: unknown): boolean {
  if (branch.every((i) => i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value'))) return true;
  return (
    value !== null &&
    typeof value === 'object' &&
    branch.every((i) => i.path.length === 1 && (value as Record<PropertyKey, unknown>)[i.path[0]!] === undefined)
  );
}

function issueProblems(doc: SourceDocument, issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[]): Problem[] {
  return issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path];
    const where = (p: PropertyKey[]) => (p.length > 0 ? `${p.map(String).join('.')}: ` : '');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) =>
        doc.problem([...path, key], `${where([...path, key])}unknown field (check the spelling; docs/slo.md lists the fields)`),
      );
    }
    if (issue.code === 'invalid_union') {
      // `windows: default` or a list: a list with one bad entry is reported at that entry's field,
      // not as "Invalid input" for the whole union.
      const meant = issue.errors.filter((branch) => !notMeant(branch, valueAt(doc.value, path)));
      if (meant.length === 1) return issueProblems(doc, meant[0]!, path);
    }
    const missing = isMissing(issue);
    return [
      doc.problem(
        path,
        `${where(path)}${missing ? `required (${issue.message.replace(/^Invalid input: /, '').replace(/, received undefined$/, '')})` : issue.message}`,
      ),
    ];
  });
}

/** Prometheus' default `scrape_interval`: assumed for an SLI whose file declares none. */
export const DEFAULT_SCRAPE_MS = 60_000;

/**
 * Whether an SLI reads each alert window as a range of its own samples (`rate(x[{{window}}])`,
 * a counter's `increase(x[window])`), which needs two scrapes in the window to have a value. A
 * query that reads its own range (`sum(rate(x[5m]))`) or a gauge is averaged over the window
 * from a subquery instead, and a synthetic SLI has no scrapes.
 */
export function readsWindowRanges(sli: Sli): boolean {
  if (sli.kind === 'raw') return hasWindowTemplate(sli.errorRatioQuery);
  if (sli.kind !== 'events') return false;
  const counter = sli.counter ?? true;
  return [sli.totalQuery, sli.errorQuery ?? sli.goodQuery ?? ''].some((q) => hasWindowTemplate(q) || (counter && !readsOwnRange(q)));
}

/**
 * The warning for an alert window that holds fewer than two scrapes: a rate over it has no
 * value at most evaluations; the window set is then undecided (neither breaches nor clears) and
 * hardly ever fires.
 * `scrape` names where the interval came from; `change` says what to write instead.
 */
export function fewScrapesMessage(windowMs: number, scrapeMs: number, scrape: string, change: string): string {
  return `a ${formatDuration(windowMs)} window holds fewer than two scrapes of ${formatDuration(scrapeMs)} (${scrape}): a rate over it has no value at most evaluations, and a window without data holds the alert state, so this window set can hardly fire; ${change}`;
}
