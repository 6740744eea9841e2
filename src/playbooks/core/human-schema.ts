import { z } from 'zod';
import { durationSchema } from './duration.js';

/**
 * Fields of `kind: human` steps: who is asked (`assign`), what they see (`prompt`,
 * `description`), what they answer (`type`, `options`, `input`), how fast (`sla`), and the
 * confidence × impact cell the auto-approval policy reads. Four-eyes (two distinct approvers)
 * is implied by the step's `risk: high`; see `requiredApprovals`.
 */

/** Exactly one of `pagerduty`, `slack`, `users` (checked by the validator, which locates the problem). */
export const assignSchema = z
  .strictObject({
    /** The current on-call of an escalation policy or schedule, matched to a Slack user by email. */
    pagerduty: z
      .strictObject({
        escalationPolicy: z.string().min(1).optional(),
        schedule: z.string().min(1).optional(),
        /** Escalation-policy level to start at (1 = first). */
        level: z.int().min(1).max(20).default(1),
      })
      .optional(),
    /** Members of a Slack user group, picked by strategy, at most `wipLimit` open steps each. */
    slack: z
      .strictObject({
        userGroup: z.string().min(1),
        strategy: z.enum(['round-robin', 'least-loaded']).default('round-robin'),
        wipLimit: z.int().min(1).max(100).default(3),
      })
      .optional(),
    /** Named users (Quench identities, Slack ids or emails). */
    users: z.array(z.string().min(1)).min(1).optional(),
  })
  .meta({ description: 'Who may decide: exactly one of pagerduty, slack or users.' });
export type Assign = z.infer<typeof assignSchema>;

export const humanSlaSchema = z.strictObject({
  /** Time allowed for a decision. */
  within: durationSchema,
  /** Share of `within` after which assignees are reminded. */
  remindAt: z.number().gt(0).lt(1).default(0.5),
  /** Who is added when `within` passes: the next escalation-policy level, or another assignment. */
  escalateTo: z.union([z.literal('next-level'), assignSchema]).optional(),
  /** When true the escalation target replaces the assignees instead of joining them. */
  reassign: z.boolean().default(false),
});
export type HumanSla = z.infer<typeof humanSlaSchema>;

/**
 * Slack carries a choice as `<step id>|<value>` in a select option's value, which it caps at 150
 * characters (refusing the whole message past it): 100 leaves room for the step id. The label
 * is what people read, and has no such limit.
 */
export const OPTION_VALUE_MAX = 100;

export const humanOptionSchema = z.strictObject({
  value: z
    .string()
    .min(1)
    .max(OPTION_VALUE_MAX, `an option value is at most ${OPTION_VALUE_MAX} characters (Slack carries it with each choice): keep the value short and put the words people read in label`),
  label: z.string().min(1).optional(),
  /** Shown as a dangerous (red) button. */
  danger: z.boolean().default(false),
});

export const humanFields = {
  /** approve: approve/reject; choice: pick one of `options`; input: free text. */
  type: z.enum(['approve', 'choice', 'input']),
  /** One line: what is asked. Templates allowed. */
  prompt: z.string().min(1),
  /** Context for reviewers (Markdown, templates allowed): evidence, what happens next, the risk. */
  description: z.string().optional(),
  options: z.array(humanOptionSchema).min(2).max(25).optional(),
  input: z
    .strictObject({
      label: z.string().min(1).optional(),
      placeholder: z.string().optional(),
      multiline: z.boolean().default(false),
      /** Anchored regular expression the answer must match. */
      pattern: z.string().min(1).optional(),
    })
    .optional(),
  assign: assignSchema.optional(),
  sla: humanSlaSchema.optional(),
  /** 0..1, or a template yielding it (`${{ steps.diagnose.output.confidence }}`), for the confidence × impact policy. */
  confidence: z.union([z.number().min(0).max(1), z.string().min(1)]).optional(),
  /** low, medium or high, or a template yielding one; rendered when the step starts waiting. */
  impact: z.union([z.enum(['low', 'medium', 'high']), z.string().min(1)]).optional(),
};

/** Distinct approvers a human step needs: two for `risk: high` (four-eyes), else one. */
export function requiredApprovals(step: { risk: 'low' | 'medium' | 'high' }): number {
  return step.risk === 'high' ? 2 : 1;
}
