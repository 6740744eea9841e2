import { z } from 'zod';
import { openSloLabelsSchema } from './common.js';

/**
 * OpenSLO `openslo/v1` documents (https://github.com/OpenSLO/OpenSLO#specification): the one zod
 * schema per kind; references and meaning are checked by openslo-import.ts. Objects are
 * non-strict: vendors and generators add fields, and real files must still load.
 */
export const OPENSLO_V1 = 'openslo/v1';

const name = z.string().regex(/^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,251}[a-zA-Z0-9])?$/, 'expected a name of letters, digits, ".", "_" and "-"');

const metadata = z.object({
  name,
  displayName: z.string().optional(),
  namespace: z.string().optional(),
  /** Scalars become their text, a list one comma-separated value (common.ts, the rule all formats share). */
  labels: openSloLabelsSchema.optional(),
  annotations: z.record(z.string(), z.unknown()).optional(),
});

export const metricSourceSchema = z.object({
  metricSourceRef: z.string().optional(),
  type: z.string().optional(),
  spec: z.record(z.string(), z.unknown()).nullish(),
});

const metric = z.object({ metricSource: metricSourceSchema });

export const sliSpecSchema = z.object({
  description: z.string().optional(),
  thresholdMetric: metric.optional(),
  ratioMetric: z
    .object({
      counter: z.boolean().optional(),
      good: metric.optional(),
      bad: metric.optional(),
      total: metric.optional(),
      rawType: z.enum(['success', 'failure']).optional(),
      raw: metric.optional(),
    })
    .optional(),
});

const inlineSli = z.object({ metadata: metadata.optional(), spec: sliSpecSchema });

const durationShorthand = z.union([z.string(), z.number()]);

const objective = z.object({
  displayName: z.string().optional(),
  name: z.string().optional(),
  op: z.enum(['lt', 'lte', 'gt', 'gte']).optional(),
  value: z.number().optional(),
  target: z.number().optional(),
  targetPercent: z.number().optional(),
  timeSliceTarget: z.number().optional(),
  timeSliceWindow: durationShorthand.optional(),
  indicator: inlineSli.optional(),
  indicatorRef: z.string().optional(),
  compositeWeight: z.number().optional(),
});

const timeWindow = z.object({
  duration: z.string(),
  isRolling: z.boolean().optional(),
  calendar: z
    .object({
      // A YAML 1.1 parser may hand us a Date; OpenSLO means wall-clock time in timeZone.
      startTime: z.union([z.string(), z.date().transform((d) => d.toISOString().slice(0, 19))]),
      timeZone: z.string(),
    })
    .optional(),
});

export const alertConditionSpecSchema = z.object({
  description: z.string().optional(),
  severity: z.string().min(1),
  condition: z.object({
    /** The spec's default, and the only kind it defines. */
    kind: z.string().default('burnrate'),
    // Not in the v1 README's AlertCondition (a burn rate above the threshold alerts); earlier
    // drafts and real files write it: gt and gte are read, lt and lte refused (openslo-alerts.ts).
    op: z.enum(['lt', 'lte', 'gt', 'gte'], { error: (issue) => `expected gt or gte (or no op: above the threshold), not ${String(issue.input)}` }).optional(),
    threshold: z.number(),
    lookbackWindow: z.string(),
    alertAfter: z.string().optional(),
  }),
});

const conditionItem = z.union([
  z.object({ conditionRef: z.string() }),
  z.object({ kind: z.literal('AlertCondition'), metadata: metadata.optional(), spec: alertConditionSpecSchema }),
]);

export const alertPolicySpecSchema = z.object({
  description: z.string().optional(),
  alertWhenNoData: z.boolean().optional(),
  alertWhenResolved: z.boolean().optional(),
  alertWhenBreaching: z.boolean().optional(),
  conditions: z.array(conditionItem).min(1),
  notificationTargets: z.array(z.unknown()).nullish(),
});

const policyItem = z.union([
  z.object({ alertPolicyRef: z.string() }),
  z.object({ kind: z.literal('AlertPolicy'), metadata: metadata.optional(), spec: alertPolicySpecSchema }),
]);

export const sloSpecSchema = z.object({
  description: z.string().optional(),
  service: z.string().min(1),
  indicator: inlineSli.optional(),
  indicatorRef: z.string().optional(),
  // Some generators write one window as a mapping instead of a one-item list. Optional in the
  // spec: openslo-import.ts reads an SLO without one as 30 days rolling, with a warning.
  timeWindow: z
    .preprocess((v) => (v && typeof v === 'object' && !Array.isArray(v) ? [v] : v), z.array(timeWindow).min(1, 'expected one time window'))
    .optional(),
  // Spelled as the spec does, but `occurrences` and `TimeSlices` are common in real files.
  budgetingMethod: z.preprocess(
    (v) =>
      typeof v === 'string'
        ? ({ occurrences: 'Occurrences', timeslices: 'Timeslices', ratiotimeslices: 'RatioTimeslices' }[v.toLowerCase()] ?? v)
        : v,
    z.enum(['Occurrences', 'Timeslices', 'RatioTimeslices'], {
      error: (issue) =>
        issue.input === undefined
          ? 'required (Occurrences, Timeslices or RatioTimeslices)'
          : `expected Occurrences, Timeslices or RatioTimeslices, not ${String(issue.input)}`,
    }),
  ),
  objectives: z.array(objective).min(1, 'expected at least one objective'),
  // Real files leave `alertPolicies:` empty (null); that means none.
  alertPolicies: z.array(policyItem).nullish(),
});

/**
 * `DataSource.connectionDetails` for Prometheus-compatible endpoints (Prometheus, Thanos Query,
 * Mimir, Cortex): free-form in OpenSLO, so only these keys are read and others are kept (vendors
 * add their own). `tenant` (or `orgId`) becomes Mimir's and Cortex's `X-Scope-OrgID` header.
 */
export const prometheusConnectionSchema = z.looseObject({
  url: z
    .string()
    .refine((v) => /^https?:\/\/[^\s/]+/.test(v), { message: 'expected the http(s) base URL of the Prometheus API, e.g. http://prometheus-eu:9090' }),
  tenant: z.string().min(1).optional(),
  orgId: z.string().min(1).optional(),
  headers: z.record(z.string(), z.string()).optional(),
});

const doc = <K extends string, S extends z.ZodType>(kind: K, spec: S) =>
  z.object({ apiVersion: z.literal(OPENSLO_V1), kind: z.literal(kind), metadata, spec });

export const openSloDocumentSchemas = {
  SLO: doc('SLO', sloSpecSchema),
  SLI: doc('SLI', sliSpecSchema),
  DataSource: doc(
    'DataSource',
    z.object({ description: z.string().optional(), type: z.string().min(1), connectionDetails: z.unknown().optional() }),
  ),
  AlertPolicy: doc('AlertPolicy', alertPolicySpecSchema),
  AlertCondition: doc('AlertCondition', alertConditionSpecSchema),
  AlertNotificationTarget: doc('AlertNotificationTarget', z.object({ description: z.string().optional(), target: z.string() })),
  Service: doc('Service', z.object({ description: z.string().optional() }).nullish()),
} as const;

export type OpenSloKind = keyof typeof openSloDocumentSchemas;
export type OpenSloSlo = z.infer<(typeof openSloDocumentSchemas)['SLO']>;
export type OpenSloSliSpec = z.infer<typeof sliSpecSchema>;
export type MetricSource = z.infer<typeof metricSourceSchema>;
export type AlertConditionSpec = z.infer<typeof alertConditionSpecSchema>;
export type AlertPolicySpec = z.infer<typeof alertPolicySpecSchema>;
export type OpenSloDataSource = z.infer<(typeof openSloDocumentSchemas)['DataSource']>;
