import type { ExpressionContext } from '../../playbooks/core/expressions.js';
import { renderValue } from '../../playbooks/core/templates.js';
import { messageOf } from '../../core/errors.js';

/**
 * The confidence and impact a human step gives the approval policy (core/auto-approval.ts),
 * rendered when the step is offered: `confidence: "${{ steps.diagnose.output.confidence }}"`
 * reads the outputs of the steps before it. A template that fails, a confidence that is not a
 * number from 0 to 1, or an impact that is not low/medium/high is an `error`: the policy then
 * asks a human (never auto-approves, never blocks) and the reason is audited.
 */
export interface PolicyInputs {
  confidence?: number;
  impact?: 'low' | 'medium' | 'high';
  error?: string;
}

export function renderPolicyInputs(
  step: { confidence?: number | string | undefined; impact?: string | undefined },
  context: ExpressionContext,
): PolicyInputs {
  const errors: string[] = [];
  const out: PolicyInputs = {};
  if (step.confidence !== undefined) {
    const rendered = render(step.confidence, context);
    const value = 'error' in rendered ? undefined : asNumber(rendered.value);
    if ('error' in rendered) errors.push(`the confidence template failed: ${rendered.error}`);
    else if (value !== undefined && value >= 0 && value <= 1) out.confidence = value;
    else errors.push(`confidence ${show(rendered.value)} is not a number from 0 to 1`);
  }
  if (step.impact !== undefined) {
    const rendered = render(step.impact, context);
    if ('error' in rendered) errors.push(`the impact template failed: ${rendered.error}`);
    else if (rendered.value === 'low' || rendered.value === 'medium' || rendered.value === 'high') out.impact = rendered.value;
    else errors.push(`impact ${show(rendered.value)} is not low, medium or high`);
  }
  if (errors.length > 0) out.error = errors.join('; ');
  return out;
}

function render(value: unknown, context: ExpressionContext): { value: unknown } | { error: string } {
  try {
    return { value: renderValue(value, context) };
  } catch (err) {
    return { error: messageOf(err) };
  }
}

// CEL integers arrive as bigint; a template inside text renders to a string.
function asNumber(v: unknown): number | undefined {
  const n = typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

function show(v: unknown): string {
  return typeof v === 'bigint' ? String(v) : (JSON.stringify(v) ?? String(v));
}
