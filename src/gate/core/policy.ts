import type { BudgetReading, Blocks } from './model.js';

/**
 * The error budget policy of one SLO, as a step function over its latest evaluation: freeze,
 * lift, change what is blocked, or hold. Hysteresis: a freeze starts at or below `freezeBelow`
 * (or while the page alert fires, or when the budget would run out within the bound) and lifts
 * only above `recoverAbove` once the page alert has resolved, so a budget hovering at the
 * threshold does not flap the gate. No data, or a failed evaluation, holds the current state.
 */
export type FreezeStep =
  | { action: 'freeze'; blocks: Blocks; reasons: string[] }
  | { action: 'reblock'; blocks: Blocks; reasons: string[] }
  | { action: 'lift'; reasons: string[] }
  | { action: 'hold' };

const pct = (r: number) => `${(Math.round(r * 1000) / 10).toString()}%`;

function formatSeconds(s: number): string {
  if (s < 3600) return `${Math.max(1, Math.round(s / 60))}m`;
  if (s < 172_800) return `${(s / 3600).toFixed(1)}h`;
  return `${Math.round(s / 86_400)}d`;
}

/** Why the policy says "frozen" now (empty: no trigger holds). */
export function freezeTriggers(r: BudgetReading): string[] {
  const p = r.policy;
  const out: string[] = [];
  if (r.budgetRemaining !== null && r.budgetRemaining <= p.freezeBelow)
    out.push(`budget remaining ${pct(r.budgetRemaining)} is at or below ${pct(p.freezeBelow)}`);
  if (p.freezeOnPage && r.page === 'firing') out.push('a page-severity burn alert is firing');
  if (
    p.freezeWhenExhaustedWithinMs !== null &&
    r.timeToExhaustionSeconds !== null &&
    r.timeToExhaustionSeconds * 1000 <= p.freezeWhenExhaustedWithinMs
  )
    out.push(
      `the budget runs out in ${formatSeconds(r.timeToExhaustionSeconds)}, within ${formatSeconds(p.freezeWhenExhaustedWithinMs / 1000)}`,
    );
  return out;
}

function blocksFor(r: BudgetReading): Blocks {
  const all = r.policy.freezeAllBelow;
  return all !== null && r.budgetRemaining !== null && r.budgetRemaining <= all ? 'all' : 'high';
}

export function stepFreeze(r: BudgetReading, active: { blocks: Blocks } | undefined): FreezeStep {
  if (r.state !== 'ok' || r.budgetRemaining === null) return { action: 'hold' };
  const triggers = freezeTriggers(r);
  const blocks = blocksFor(r);
  if (!active) return triggers.length > 0 ? { action: 'freeze', blocks, reasons: triggers } : { action: 'hold' };
  const recovered = r.budgetRemaining > r.policy.recoverAbove;
  const alertResolved = r.page !== 'firing' && r.page !== 'pending';
  if (recovered && alertResolved && triggers.length === 0) {
    return {
      action: 'lift',
      reasons: [`budget remaining ${pct(r.budgetRemaining)} is above ${pct(r.policy.recoverAbove)} and no page alert is open`],
    };
  }
  if (blocks !== active.blocks) return { action: 'reblock', blocks, reasons: triggers.length > 0 ? triggers : ['budget changed'] };
  return { action: 'hold' };
}
