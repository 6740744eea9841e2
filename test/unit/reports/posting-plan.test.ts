import { describe, expect, it } from 'vitest';
import { type Posting, postingOf } from '../../../src/reports/core/posting-plan.js';

/**
 * postingOf, the one decision of what becomes of a report its claimant just stored. With Slack
 * on it is the if-chain Reports.produce held before (written out below as the oracle); with
 * Slack off a scheduled week is stored pending and nothing is ever posted or marked posted.
 */
const origins = ['scheduled', 'on_demand'] as const;
const cases = origins.flatMap((rowOrigin) => origins.flatMap((origin) => [true, false].map((post) => ({ rowOrigin, origin, post }))));

/** produce() before: lease when either origin is scheduled; a GET released it; else posted under it; a person's post of another period posted once. */
function formerChain({ rowOrigin, origin, post }: { rowOrigin: string; origin: string; post: boolean }): Posting {
  const lease = rowOrigin === 'scheduled' || origin === 'scheduled';
  if (lease && origin !== 'scheduled' && !post) return { kind: 'pending' };
  if (lease) return { kind: 'scheduled', raise: origin !== 'scheduled' };
  if (post) return { kind: 'once' };
  return { kind: 'none' };
}

describe('postingOf', () => {
  it.each(cases)('with Slack, as before: row %o', (c) => {
    expect(postingOf({ ...c, canPost: true })).toEqual(formerChain(c));
  });

  it.each(cases)('without Slack, a scheduled week is left pending and nothing is posted: row %o', (c) => {
    const scheduled = c.rowOrigin === 'scheduled' || c.origin === 'scheduled';
    expect(postingOf({ ...c, canPost: false })).toEqual(scheduled ? { kind: 'pending' } : { kind: 'none' });
  });
});
