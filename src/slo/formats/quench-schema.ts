import { z } from 'zod';
import { isValidTimeZone } from '../core/calendar.js';
import { durationHint } from '../../core/duration.js';
import { parseDuration } from '../core/duration.js';
import { parseLabelMatchers, renderLabelMatchers } from '../core/promql.js';
import { labelsSchema, ratioInPercentField } from './common.js';

/**
 * Quench's own SLO format (`apiVersion: quench/v1`, `kind: SLO`): the one zod schema for it;
 * the types are inferred. Shaped like the playbook format (metadata, then top-level fields) and
 * close to Sloth's, so that a Sloth file ports by renaming a few keys. docs/slo.md documents it.
 */
export const API_VERSION = 'quench/v1';
export const KIND = 'SLO';

export const durationText = z
  .string()
  .refine((v) => parseDuration(v) !== undefined, { message: durationHint(true) });

const nameSchema = z
  .string()
  .regex(
    /^[a-z0-9]([a-z0-9._-]{0,126}[a-z0-9])?$/,
    'expected a name of lower-case letters, digits, ".", "_" and "-", at most 128 characters',
  );

/**
 * Percent in (0, 100): `99.9`. A value at or below 1 is a ratio written where a percentage
 * belongs (OpenSLO's `target: 0.999`): read as it stands it is a budget of 99% that never
 * alerts, so it is refused with the percentage to write.
 */
const percent = z
  .number()
  .gt(0, 'expected a percentage above 0')
  .lt(100, 'expected a percentage below 100 (100% leaves no error budget)')
  .superRefine((v, ctx) => {
    const ratio = ratioInPercentField(v);
    if (ratio) ctx.addIssue({ code: 'custom', message: ratio });
  });

const query = z.string().min(1, 'expected a PromQL query');

// Each union says what it expects as a whole: when no branch fits the value's type (a number,
// a capitalised word), zod alone says only "Invalid input".
const windowSchema = z.union(
  [
    durationText.describe('rolling window, e.g. 30d or 4w'),
    z.strictObject({
      calendar: z.enum(['week', 'month', 'quarter', 'year']),
      timeZone: z.string().default('UTC').refine(isValidTimeZone, { message: 'expected an IANA time zone such as Europe/Berlin or UTC' }),
    }),
  ],
  { error: 'expected a rolling window such as 30d or 4w, or { calendar: week|month|quarter|year, timeZone: Europe/Berlin }' },
);

const budgetingSchema = z.union(
  [
    z.enum(['occurrences', 'timeslices']).describe('occurrences, or timeslices with the defaults (1m slices, 99% slice target)'),
    z.strictObject({
      method: z.enum(['occurrences', 'timeslices', 'ratioTimeslices']),
      sliceLength: durationText.default('1m'),
      /** Percent of good events a slice needs to count as good (timeslices only). */
      sliceTarget: percent.default(99),
    }),
  ],
  {
    error:
      'expected occurrences or timeslices (lower-case), or { method: occurrences|timeslices|ratioTimeslices, sliceLength: 1m, sliceTarget: 99 }',
  },
);

const phaseSchema = z.strictObject({ at: durationText.or(z.literal('0')), errorRatio: z.number().min(0).max(1) });

/** The synthetic source's script; OpenSLO files use the same fields in `metricSource.spec`. */
export const syntheticSchema = z.strictObject({
  requestsPerSecond: z.number().positive().default(10),
  /** Error ratio from each offset until the next; offsets from the anchor (modulo `repeat`). */
  script: z.array(phaseSchema).min(1),
  repeat: durationText.optional(),
  anchor: z.enum(['epoch', 'start']).default('epoch'),
});
export type SyntheticSpec = z.infer<typeof syntheticSchema>;

/**
 * A latency SLI's selector: well-formed label matchers (core/promql.ts parseLabelMatchers), none
 * of them on `le` (Quench matches the bucket from `threshold`) or `__name__` (the metric is
 * `histogram`). Rendered back without braces or a trailing comma, so that Quench can add its
 * own `le` matcher after it.
 */
function selectorOf(text: string, ctx: z.core.$RefinementCtx<string>): string {
  const parsed = parseLabelMatchers(text);
  const problem = (message: string) => {
    ctx.issues.push({ code: 'custom', input: text, message });
    return z.NEVER;
  };
  if ('error' in parsed) {
    return problem(`not a list of label matchers (name op "value", op one of =, !=, =~, !~, comma-separated, e.g. job="checkout",code!~"5.."): ${parsed.error}`);
  }
  for (const m of parsed.matchers) {
    if (m.name === 'le') return problem(`${m.name}${m.op}${m.value}: the le label is Quench's: it matches the bucket of \`threshold\`; remove it and set threshold to the bucket boundary`);
    if (m.name === '__name__') return problem(`${m.name}${m.op}${m.value}: the metric comes from \`histogram\` (its _bucket and _count series); remove __name__`);
  }
  return renderLabelMatchers(parsed.matchers);
}

// One object with optional kinds (not a union) so that a mistake inside `events` is reported
// at its own field instead of as "no union member matched".
const sliSchema = z
  .strictObject({
    events: z
      .strictObject({ errorQuery: query.optional(), goodQuery: query.optional(), totalQuery: query })
      .refine((e) => (e.errorQuery === undefined) !== (e.goodQuery === undefined), {
        message: 'give exactly one of errorQuery and goodQuery (with totalQuery)',
      })
      .optional(),
    raw: z.strictObject({ errorRatioQuery: query }).optional(),
    latency: z
      .strictObject({
        /** Histogram base name: `http_request_duration_seconds` (its _bucket and _count series are used). */
        histogram: z
          .string()
          .regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'expected a metric name (without _bucket)')
          // Quench appends the suffixes itself: `…_bucket` here would read `…_bucket_bucket`, which never has data.
          .refine((v) => !/_(bucket|count|sum)$/.test(v), {
            error: (issue) =>
              `${String(issue.input)}: write the histogram's base name, ${String(issue.input).replace(/_(bucket|count|sum)$/, '')} (Quench reads its _bucket and _count series)`,
          }),
        /** Label matchers, with or without braces: `job="checkout",code!~"5.."`; normalised to the list without braces. */
        selector: z.string().default('').transform(selectorOf),
        /** Requests at or below this (in the histogram's unit) are good; must be a bucket boundary. */
        threshold: z.number().positive(),
      })
      .optional(),
    synthetic: syntheticSchema.optional(),
    /** Prometheus' scrape interval for these series: time slices read at least two scrapes. */
    scrapeInterval: durationText.optional(),
  })
  .refine((s) => [s.events, s.raw, s.latency, s.synthetic].filter(Boolean).length === 1, {
    message: 'expected exactly one of events, raw, latency or synthetic',
  });

const FACTOR = 'expected a burn-rate factor: a finite number above 0, e.g. 14.4';
const BUDGET_PERCENT = 'expected a percentage of the budget above 0 and at most 100, e.g. 2';

const windowSpecSchema = z
  .strictObject({
    severity: z.enum(['page', 'ticket'], { error: 'expected page or ticket' }),
    long: durationText,
    short: durationText,
    /** Burn-rate threshold; or give budgetPercent, the share of budget consumed within `long`. */
    factor: z.number({ error: FACTOR }).positive(FACTOR).optional(),
    budgetPercent: z.number({ error: BUDGET_PERCENT }).gt(0, BUDGET_PERCENT).max(100, BUDGET_PERCENT).optional(),
  })
  .refine((w) => (w.factor === undefined) !== (w.budgetPercent === undefined), { message: 'give exactly one of factor and budgetPercent' });

const tierSchema = z.strictObject({
  enabled: z.boolean().default(true),
  // `for: 0` is written both as a number and as a string.
  for: durationText.or(z.literal('0')).or(z.literal(0)).optional(),
  playbook: z.string().optional(),
});

const alertingSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Low-traffic guard: a window with fewer requests cannot fire. */
  minEvents: z.number().min(0).default(10),
  windows: z
    .union([z.literal('default'), z.array(windowSpecSchema).min(1, 'expected at least one window, or default')], {
      error: 'expected default (the period\'s catalog) or a list of windows, each {severity: page|ticket, long, short, factor or budgetPercent}',
    })
    .default('default'),
  page: tierSchema.default({ enabled: true }),
  ticket: tierSchema.default({ enabled: true }),
});

/**
 * No zod defaults here: a field the SLO leaves out falls back to its service's ServicePolicy
 * and only then to the defaults (quench-import.ts budgetPolicyOf), so "unset" must stay visible.
 */
export const budgetPolicySchema = z.strictObject({
  freezeBelow: z.number().min(0).max(100).optional(),
  freezeAllBelow: z.number().min(-100).max(100).optional(),
  recoverAbove: z.number().min(0).max(100).optional(),
  freezeOnPage: z.boolean().optional(),
  freezeWhenExhaustedWithin: durationText.optional(),
  /** An automatic freeze lifts on its own this long after it started (docs/gate.md: re-freeze rule). */
  freezeExpiresAfter: durationText.optional(),
});
export type BudgetPolicyFields = z.infer<typeof budgetPolicySchema>;

export const SERVICE_POLICY_KIND = 'ServicePolicy';

/** `kind: ServicePolicy`: budget policy fields for every SLO of one service that does not set its own. */
export const servicePolicySchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(SERVICE_POLICY_KIND),
  service: z.string().min(1),
  budgetPolicy: budgetPolicySchema,
});

export const quenchSloSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(KIND),
  metadata: z.strictObject({
    name: nameSchema,
    displayName: z.string().optional(),
    description: z.string().optional(),
    /** Numbers and booleans are taken as their text (common.ts, the rule all formats share). */
    labels: labelsSchema.prefault({}),
  }),
  service: z.string().min(1),
  owner: z.strictObject({ team: z.string().optional(), slack: z.string().optional() }).optional(),
  objective: percent,
  window: windowSchema.default('30d'),
  budgeting: budgetingSchema.default('occurrences'),
  sli: sliSchema,
  alerting: alertingSchema.default({
    enabled: true,
    minEvents: 10,
    windows: 'default',
    page: { enabled: true },
    ticket: { enabled: true },
  }),
  /** Deploy-gate thresholds in percent of budget remaining; unset fields come from the service's ServicePolicy, then the defaults. */
  budgetPolicy: budgetPolicySchema.optional(),
});

export type QuenchSloFile = z.infer<typeof quenchSloSchema>;
