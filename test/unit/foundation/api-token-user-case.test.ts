import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { isQuenchError } from '../../../src/core/errors.js';
import { approve } from '../../../src/gate/core/override.js';

/**
 * A person is one identity whatever the case of their name: decisions compare names without
 * case (docs/slack.md), so `alice` and `Alice` are the same person there. Before the fix,
 * QUENCH_API_TOKENS accepted both as two users, and a check comparing exact names (the deploy
 * gate's override four-eyes) let one person request an override as `alice` and approve it as
 * `Alice`. Names that differ only in case are refused at start-up.
 */
const A = 'a'.repeat(31) + '1';
const B = 'b'.repeat(31) + '2';
const failure = (tokens: string) => {
  try {
    loadConfig({ QUENCH_API_TOKENS: tokens });
  } catch (err) {
    return isQuenchError(err) ? err.message : String(err);
  }
  return undefined;
};

describe('QUENCH_API_TOKENS user names that differ only in case', () => {
  it('are refused at start-up, naming both entries', () => {
    expect(failure(`alice=${A},Alice=${B}`)).toMatch(/entry 2: Alice and alice differ only in case/);
    expect(failure(`alice=${A},ALICE:read=${B}`)).toMatch(/differ only in case/);
  });

  it('the same name at both access levels is still one user', () => {
    expect(failure(`alice=${A},alice:read=${B}`)).toBeUndefined();
  });

  it('so the override four-eyes cannot be passed by one person under two spellings', () => {
    // The gate now compares names case-insensitively too (src/gate/core/override.ts); the start-up refusal stays.
    const o = { id: 'o1', service: 's', requestedBy: 'alice', approvers: [], until: new Date(Date.now() + 3_600_000).toISOString() };
    expect(approve(o as never, { name: 'Alice', aliases: ['Alice'] }, Date.now()).ok).toBe(false);
    expect(failure(`alice=${A},Alice=${B}`)).toBeDefined();
  });
});
