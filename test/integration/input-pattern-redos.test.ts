import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlaybookSource } from '../../src/playbooks/core/model.js';
import { type SlackHarness, startSlackHarness } from './slack-harness.js';

/**
 * Issue 9 §3: an input step's `pattern` ran as a backtracking RegExp on the decider's text, on
 * the request path: `(a+)+` against 'aaa…a!' never returned. The decision route now answers at
 * once (RE2, bounded answer).
 */
const TOKEN = 'tok-ada-0123456789abcdef0123456789ab';

describe('input pattern on the decision route', () => {
  let h: SlackHarness;
  beforeAll(async () => {
    h = await startSlackHarness('pglite', { slack: false });
  });
  afterAll(async () => h?.close());

  it('refuses a non-matching answer to a catastrophic pattern at once, and accepts a matching one', async () => {
    const steps = [
      {
        id: 'word',
        kind: 'human',
        type: 'input',
        prompt: 'Type some a',
        input: { pattern: '(a+)+' },
        assign: { users: ['ada@example.com'] },
      },
    ] as PlaybookSource['steps'];
    const runId = await h.startRun(steps);
    const stepId = await h.waitingStep(runId, 'word');
    const evil = await h.v1Decide(stepId, TOKEN, { decision: 'input', value: `${'a'.repeat(40)}!` });
    expect(evil.status).toBe(400);
    expect(((await evil.json()) as { message: string }).message).toMatch(/does not match/);
    const long = await h.v1Decide(stepId, TOKEN, { decision: 'input', value: 'a'.repeat(5000) });
    expect(long.status).toBe(400);
    expect(((await long.json()) as { message: string }).message).toMatch(/at most 1000/);
    const ok = await h.v1Decide(stepId, TOKEN, { decision: 'input', value: 'aaaa' });
    expect(ok.status).toBe(200);
  }, 60_000);
});
