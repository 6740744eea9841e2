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
  | { action: 'expire'; reasons: string[]; mark: ExpiryMark }
  | { action: 'hold' };

export type TriggerKind = 'budget' | 'page' | 'exhaustion';

/**
 * What an automatic freeze's expiry left behind (stored on the expired freeze). Within the
 * cool-down (one `freezeExpiresAfter` after the expiry) the SLO re-freezes only when its
 * condition worsens: a trigger kind absent at the expiry holds now (a page starts firing, the
 * exhaustion bound is crossed), or the budget falls REFREEZE_DROP below where it stood. Without
 * this the next evaluation would re-freeze for the very condition the expiry gave up on.
 */
export interface ExpiryMark {
  expiredAt: string;
  budgetRemaining: number | null;
  triggers: TriggerKind[];
}

/** How far (a share of the budget: 5 points) the budget must fall below its level at the expiry to re-freeze in the cool-down. */
export const REFREEZE_DROP = 0.05;

const pct = (r: number) => `${(Math.round(r * 1000) / 10).toString()}%`;

function formatSeconds(s: number): string {
  if (s < 3600) return `${Math.max(1, Math.round(s / 60))}m`;
  if (s < 172_800) return `${(s / 3600).toFixed(1)}h`;
  return `${Math.round(s / 86_400)}d`;
}

/** Why the policy says "frozen" now (empty: no trigger holds). */
export function freezeTriggers(r: BudgetReading): string[] {
  return triggersOf(r).map((t) => t.text);
}

function triggersOf(r: BudgetReading): { kind: TriggerKind; text: string }[] {
  const p = r.policy;
  const out: { kind: TriggerKind; text: string }[] = [];
  if (r.budgetRemaining !== null && r.budgetRemaining <= p.freezeBelow)
    out.push({ kind: 'budget', text: `budget remaining ${pct(r.budgetRemaining)} is at or below ${pct(p.freezeBelow)}` });
  if (p.freezeOnPage && r.page === 'firing') out.push({ kind: 'page', text: 'a page-severity burn alert is firing' });
  if (
    p.freezeWhenExhaustedWithinMs !== null &&
    r.timeToExhaustionSeconds !== null &&
    r.timeToExhaustionSeconds * 1000 <= p.freezeWhenExhaustedWithinMs
  )
    out.push({
      kind: 'exhaustion',
      text: `the budget runs out in ${formatSeconds(r.timeToExhaustionSeconds)}, within ${formatSeconds(p.freezeWhenExhaustedWithinMs / 1000)}`,
    });
  return out;
}

/** Within the cool-down after an expiry: why the condition is worse than at the expiry (empty: not worse). */
function worseSince(r: BudgetReading, triggers: { kind: TriggerKind; text: string }[], mark: ExpiryMark): string[] {
  const fresh = triggers.filter((t) => !mark.triggers.includes(t.kind)).map((t) => t.text);
  const floor = (mark.budgetRemaining ?? r.policy.freezeBelow) - REFREEZE_DROP;
  if (r.budgetRemaining !== null && r.budgetRemaining <= floor)
    fresh.push(`budget remaining ${pct(r.budgetRemaining)} fell to or below ${pct(floor)}, 5 points under its level when the last freeze expired`);
  return fresh;
}

function blocksFor(r: BudgetReading): Blocks {
  const all = r.policy.freezeAllBelow;
  return all !== null && r.budgetRemaining !== null && r.budgetRemaining <= all ? 'all' : 'high';
}

/**
 * `active`: the SLO's open automatic freeze; `until` set means it expires then (freezeExpiresAfter),
 * even without recovery. `lastExpiry`: the mark of this SLO's latest automatic freeze when that
 * one ended by expiry (and none started since); it matters only within its cool-down.
 */
export function stepFreeze(
  r: BudgetReading,
  active: { blocks: Blocks; until?: string | null } | undefined,
  ctx: { nowMs: number; lastExpiry?: ExpiryMark } = { nowMs: Number.NaN },
): FreezeStep {
  const all = triggersOf(r);
  if (active?.until && Date.parse(active.until) <= ctx.nowMs) {
    // The expiry is a promise to the people blocked: it holds even without data.
    return {
      action: 'expire',
      reasons: [`the automatic freeze expired at ${active.until} (freezeExpiresAfter)${all.length > 0 ? ` although ${all.map((t) => t.text).join('; ')}` : ''}`],
      mark: { expiredAt: new Date(ctx.nowMs).toISOString(), budgetRemaining: r.budgetRemaining, triggers: all.map((t) => t.kind) },
    };
  }
  if (r.state !== 'ok' || r.budgetRemaining === null) return { action: 'hold' };
  const triggers = all.map((t) => t.text);
  const blocks = blocksFor(r);
  if (!active) {
    if (triggers.length === 0) return { action: 'hold' };
    const mark = ctx.lastExpiry;
    const coolDownMs = r.policy.freezeExpiresAfterMs;
    if (mark && coolDownMs !== null && ctx.nowMs < Date.parse(mark.expiredAt) + coolDownMs) {
      const worse = worseSince(r, all, mark);
      return worse.length > 0 ? { action: 'freeze', blocks, reasons: worse } : { action: 'hold' };
    }
    return { action: 'freeze', blocks, reasons: triggers };
  }
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
