import { z } from 'zod';

/**
 * The confidence × impact grid: a human step that carries a confidence (0..1, from the trigger
 * or an earlier step) and an impact is auto-approved, sent to a human, or blocked, by the cell it
 * falls in. A share of auto-approvals is sampled for later human review; the sample is a hash of
 * the step id, so it is reproducible when an auditor asks why a step was (not) sampled.
 *
 * Safety floor: a `risk: high` step always goes to humans (four-eyes), whatever the grid says.
 */
export const outcomeSchema = z.enum(['auto', 'human', 'block']);
export type PolicyOutcome = z.infer<typeof outcomeSchema>;

const row = z.strictObject({ high: outcomeSchema, medium: outcomeSchema, low: outcomeSchema });

export const approvalPolicySchema = z.strictObject({
  /** Confidence at or above `high` is the high band; at or above `medium`, medium; else low. */
  bands: z.strictObject({ high: z.number().min(0).max(1), medium: z.number().min(0).max(1) }).refine((b) => b.high >= b.medium, {
    message: 'bands.high must be at least bands.medium',
  }),
  /** impact → confidence band → outcome. */
  grid: z.strictObject({ low: row, medium: row, high: row }),
  /** Share (0..1) of auto-approved steps flagged for human review. */
  sampleShare: z.number().min(0).max(1),
});
export type ApprovalPolicy = z.infer<typeof approvalPolicySchema>;

export const defaultApprovalPolicy: ApprovalPolicy = {
  bands: { high: 0.9, medium: 0.6 },
  grid: {
    low: { high: 'auto', medium: 'human', low: 'human' },
    medium: { high: 'human', medium: 'human', low: 'human' },
    high: { high: 'human', medium: 'human', low: 'block' },
  },
  sampleShare: 0.1,
};

export interface PolicyInput {
  stepId: string;
  risk: 'low' | 'medium' | 'high';
  confidence: number | undefined;
  impact: 'low' | 'medium' | 'high' | undefined;
  /** Set when confidence or impact could not be rendered to a valid value: always ask a human. */
  error?: string;
}

export type PolicyResult =
  | { outcome: 'human'; reason: string }
  | { outcome: 'block'; reason: string; band: 'high' | 'medium' | 'low' }
  | { outcome: 'auto'; reason: string; band: 'high' | 'medium' | 'low'; sampled: boolean };

export function applyApprovalPolicy(policy: ApprovalPolicy, input: PolicyInput): PolicyResult {
  if (input.error) return { outcome: 'human', reason: `human review: ${input.error}` };
  if (input.confidence === undefined || input.impact === undefined || !Number.isFinite(input.confidence)) {
    return { outcome: 'human', reason: 'no confidence and impact on the step' };
  }
  const band = input.confidence >= policy.bands.high ? 'high' : input.confidence >= policy.bands.medium ? 'medium' : 'low';
  const cell = policy.grid[input.impact][band];
  const where = `confidence ${input.confidence} (${band}) × impact ${input.impact}`;
  if (cell === 'block') return { outcome: 'block', band, reason: `blocked by the approval policy: ${where}` };
  if (cell === 'human' || input.risk === 'high') {
    return { outcome: 'human', reason: cell === 'auto' ? `risk: high always needs humans (${where})` : `human review: ${where}` };
  }
  return { outcome: 'auto', band, reason: `auto-approved: ${where}`, sampled: sampled(input.stepId, policy.sampleShare) };
}

/** FNV-1a over the step id, scaled to [0, 1): a stable, evenly spread sample without node:crypto. */
export function sampled(stepId: string, share: number): boolean {
  if (share <= 0) return false;
  if (share >= 1) return true;
  let h = 0x811c9dc5;
  for (let i = 0; i < stepId.length; i++) {
    h ^= stepId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h / 0x1_0000_0000 < share;
}
