import { z } from 'zod';
import { kubernetesLabelsSchema, labelsSchema } from './common.js';

/**
 * Sloth's SLO spec (https://github.com/slok/sloth, pkg/prometheus/api/v1 and the
 * `sloth.slok.dev/v1` PrometheusServiceLevel CRD): the one zod schema for both forms. They hold
 * the same fields, snake_case in the plain spec and camelCase in the CRD, so the schema is built
 * from a key table and the importer reads the values through the same table. Objects are strict:
 * a typo is reported at its key rather than silently dropped.
 */
export const SLOTH_VERSION = 'prometheus/v1';
export const SLOTH_CRD_API_VERSION = 'sloth.slok.dev/v1';
export const SLOTH_CRD_KIND = 'PrometheusServiceLevel';

export const snakeKeys = {
  errorQuery: 'error_query',
  totalQuery: 'total_query',
  errorRatioQuery: 'error_ratio_query',
  pageAlert: 'page_alert',
  ticketAlert: 'ticket_alert',
  sloPlugins: 'slo_plugins',
} as const;
export const camelKeys = {
  errorQuery: 'errorQuery',
  totalQuery: 'totalQuery',
  errorRatioQuery: 'errorRatioQuery',
  pageAlert: 'pageAlert',
  ticketAlert: 'ticketAlert',
  sloPlugins: 'sloPlugins',
} as const;
export type SlothKeys = typeof snakeKeys | typeof camelKeys;

/** Sloth's own name rule (its validator's `name` tag): letters, digits, `-`, `_`, `.`. */
const slothName = z
  .string()
  .regex(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,126}[A-Za-z0-9])?$/, 'expected a name of letters, digits, "-", "_" and ".", starting and ending with a letter or digit');
const query = z.string().min(1, 'expected a PromQL query');

/** Plugins run Go code inside Sloth: accepted by the schema so the importer can refuse them at their own key. */
const plugins = z.unknown();

/**
 * `labels`: how label and annotation values are read. The plain spec is read by Go's yaml.v2,
 * which takes `tier: 2` as "2"; the CRD by Kubernetes' decoder, which refuses it (common.ts).
 */
function specSchema(k: SlothKeys, labels: typeof labelsSchema | typeof kubernetesLabelsSchema) {
  const alert = z.strictObject({ disable: z.boolean().default(false), labels: labels.default({}), annotations: labels.default({}) });
  const slo = z.strictObject({
    name: slothName,
    description: z.string().optional(),
    objective: z.number().gt(0, 'expected a percentage above 0').max(100, 'expected a percentage of at most 100'),
    plugins: plugins.optional(),
    labels: labels.default({}),
    sli: z
      .strictObject({
        events: z
          .strictObject({ [k.errorQuery]: query, [k.totalQuery]: query })
          .transform((e) => ({ errorQuery: e[k.errorQuery]!, totalQuery: e[k.totalQuery]! }))
          .optional(),
        raw: z
          .strictObject({ [k.errorRatioQuery]: query })
          .transform((r) => ({ errorRatioQuery: r[k.errorRatioQuery]! }))
          .optional(),
        plugin: z.strictObject({ id: z.string(), options: z.record(z.string(), z.unknown()).optional() }).optional(),
      })
      .refine((s) => [s.events, s.raw, s.plugin].filter(Boolean).length === 1, { message: 'expected exactly one of events, raw or plugin' }),
    alerting: z
      .strictObject({
        name: z.string().min(1).optional(),
        labels: labels.default({}),
        annotations: labels.default({}),
        [k.pageAlert]: alert.optional(),
        [k.ticketAlert]: alert.optional(),
      })
      .transform((a) => ({
        name: a.name as string | undefined,
        labels: a.labels as Record<string, string>,
        annotations: a.annotations as Record<string, string>,
        page: a[k.pageAlert] as z.infer<typeof alert> | undefined,
        ticket: a[k.ticketAlert] as z.infer<typeof alert> | undefined,
      }))
      .optional(),
  });
  return z
    .strictObject({ service: slothName, labels: labels.default({}), [k.sloPlugins]: plugins.optional(), slos: z.array(slo).min(1, 'expected at least one SLO') })
    .transform((s) => ({
      service: s.service as string,
      labels: s.labels as Record<string, string>,
      sloPlugins: s[k.sloPlugins],
      slos: s.slos as Array<z.infer<typeof slo>>,
    }));
}

/** `version: "prometheus/v1"` files: the spec's fields at the top level. */
export const slothSpecSchema = z
  .looseObject({ version: z.literal(SLOTH_VERSION) })
  .transform(({ version: _version, ...rest }) => rest)
  .pipe(specSchema(snakeKeys, labelsSchema));

/** The Kubernetes form: the same spec (camelCase) under `spec`; metadata is Kubernetes' and not checked. */
export const slothCrdSchema = z.object({
  apiVersion: z.literal(SLOTH_CRD_API_VERSION),
  kind: z.literal(SLOTH_CRD_KIND),
  metadata: z.looseObject({ name: z.string().optional(), namespace: z.string().optional() }).optional(),
  spec: specSchema(camelKeys, kubernetesLabelsSchema),
  status: z.unknown().optional(),
});

/** One SLO of either form, as the importer reads it (keys through the form's table). */
export type SlothSpec = z.output<ReturnType<typeof specSchema>>;
export type SlothSlo = SlothSpec['slos'][number];
