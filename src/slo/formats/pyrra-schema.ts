import { z } from 'zod';
import { kubernetesLabelsSchema } from './common.js';

/**
 * Pyrra's `ServiceLevelObjective` resource (`pyrra.dev/v1alpha1`,
 * https://github.com/pyrra-dev/pyrra kubernetes/api/v1alpha1/servicelevelobjective_types.go):
 * the one zod schema for it. `spec` is strict so that a typo is reported at its key; metadata is
 * Kubernetes' own and only the fields Quench reads are checked.
 */
export const PYRRA_API_VERSION = 'pyrra.dev/v1alpha1';
export const PYRRA_KIND = 'ServiceLevelObjective';

const metricQuery = z.strictObject({ metric: z.string().min(1, 'expected a PromQL selector') });
const grouping = z.array(z.string().min(1)).nullish();

export const pyrraSloSchema = z.object({
  apiVersion: z.literal(PYRRA_API_VERSION),
  kind: z.literal(PYRRA_KIND),
  metadata: z.looseObject({
    name: z
      .string()
      .regex(/^[a-z0-9]([a-z0-9._-]{0,251}[a-z0-9])?$/, 'expected a Kubernetes name: lower-case letters, digits, "-" and "."'),
    namespace: z.string().optional(),
    labels: kubernetesLabelsSchema.nullish(),
    annotations: kubernetesLabelsSchema.nullish(),
  }),
  spec: z.strictObject({
    description: z.string().nullish(),
    /** A string in Kubernetes (the CRD has no floats); plain YAML numbers are accepted too. */
    target: z.union([z.string(), z.number()]),
    window: z.string().min(1),
    indicator: z
      .strictObject({
        ratio: z.strictObject({ errors: metricQuery, total: metricQuery, grouping }).optional(),
        latency: z.strictObject({ success: metricQuery, total: metricQuery, grouping }).optional(),
        latencyNative: z.strictObject({ total: metricQuery, latency: z.string().min(1), grouping }).optional(),
        bool_gauge: z.strictObject({ metric: z.string().min(1, 'expected a PromQL selector'), grouping }).optional(),
      })
      .refine((i) => [i.ratio, i.latency, i.latencyNative, i.bool_gauge].filter(Boolean).length === 1, {
        message: 'expected exactly one of ratio, latency, latencyNative or bool_gauge',
      }),
    alerting: z
      .strictObject({
        disabled: z.boolean().optional(),
        burnrates: z.boolean().optional(),
        absent: z.boolean().optional(),
        name: z.string().min(1).optional(),
        absentName: z.string().optional(),
        severities: z
          .strictObject({
            absent: z.string().optional(),
            fastBurn: z.string().optional(),
            mediumBurn: z.string().optional(),
            slowBurn: z.string().optional(),
            longTermBurn: z.string().optional(),
          })
          .optional(),
      })
      .optional(),
    partial_response_strategy: z.enum(['abort', 'warn', '']).optional(),
    performanceOverAccuracy: z.boolean().optional(),
    ruleOutput: z.unknown().optional(),
  }),
  status: z.unknown().optional(),
});

export type PyrraSlo = z.infer<typeof pyrraSloSchema>;
