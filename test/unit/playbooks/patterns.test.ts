import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/main.js';
import { matches } from '../../../src/ingest/core/route.js';
import { answerRefusal, MAX_PATTERN_INPUT_CHARS } from '../../../src/playbooks/core/patterns.js';
import { triggerMatcherSchema } from '../../../src/playbooks/core/triggers-schema.js';
import type { TriggerEvent } from '../../../src/triggers/event.js';

/**
 * Issue 9 §3: input `pattern`s ran as JavaScript RegExp (backtracking) on up to 10,000
 * characters of a decider's text, on the request path. They now run on RE2 with a bounded
 * answer, and `quench validate` reports patterns RE2 cannot run at file:line:col.
 */
async function cli(args: string[]) {
  const out: string[] = [];
  const code = await runCli(args, { stdout: (t) => out.push(t), stderr: () => undefined, env: {} });
  return { code, stdout: out.join('') };
}

const dir = mkdtempSync(join(tmpdir(), 'quench-patterns-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('input patterns', () => {
  it('quench validate reports a pattern that needs backtracking features at file:line:col', async () => {
    const file = join(dir, 'patterns.yaml');
    writeFileSync(
      file,
      `apiVersion: quench/v1
kind: Playbook
metadata: { name: patterns, owner: me }
steps:
  - id: revision
    kind: human
    type: input
    prompt: Which revision?
    input: { pattern: "(\\\\d+)-\\\\1" }
  - id: ticket
    kind: human
    type: input
    prompt: Which ticket?
    input: { pattern: "(?=INC)[A-Z]+-[0-9]+" }
  - id: safe
    kind: human
    type: input
    prompt: Which version?
    input: { pattern: "(v+)+[0-9]+" }
`,
    );
    const { code, stdout } = await cli(['validate', file]);
    expect(code).toBe(1);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:9:\\d+: pattern is not valid RE2 syntax .*\\\\1`));
    expect(lines[1]).toMatch(/:14:\d+: pattern is not valid RE2 syntax .*\(\?=/);
  });

  it('a pattern that backtracks catastrophically in JavaScript answers at once', () => {
    // `(a+)+` against 'aaaa…!' is 2^n steps for a backtracking engine; RE2 is linear.
    expect(answerRefusal('(a+)+', `${'a'.repeat(900)}!`)).toMatch(/does not match/);
    expect(answerRefusal('(a+)+', 'aaaa')).toBeUndefined();
    expect(answerRefusal('[0-9]+', '42')).toBeUndefined();
    expect(answerRefusal('[0-9]+', '42; drop')).toMatch(/does not match/);
  });

  it('answers longer than the bound are refused before matching', () => {
    expect(answerRefusal('.*', 'x'.repeat(MAX_PATTERN_INPUT_CHARS + 1))).toMatch(/at most 1000/);
  });
});

describe('trigger labelsMatch patterns', () => {
  const event = (service: string): TriggerEvent => ({
    source: 'alertmanager',
    type: 'alert.firing',
    key: 'k',
    summary: 's',
    labels: { service },
    annotations: {},
    occurredAt: new Date(0),
    resolved: false,
  });

  it('are RE2, like Prometheus label matchers: validated as such, and linear on a sender\'s label value', () => {
    expect(triggerMatcherSchema.safeParse({ labelsMatch: { service: '(?=check)\\w+' } }).success).toBe(false);
    const caseless = triggerMatcherSchema.parse({ labelsMatch: { service: '(?i)checkout' } });
    expect(matches(caseless, event('CheckOut'))).toBe(true);
    const catastrophic = triggerMatcherSchema.parse({ labelsMatch: { service: '(a+)+' } });
    expect(matches(catastrophic, event(`${'a'.repeat(5000)}!`))).toBe(false);
    expect(matches(catastrophic, event('aaa'))).toBe(true);
  });
});
