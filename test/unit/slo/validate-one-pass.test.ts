import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/main.js';

/**
 * Issue 15: `quench validate` reports every problem of a broken OpenSLO document in one run:
 * the schema errors and the semantic ones (a ratio without total, a target of 1.5), each at
 * file:line:col. Before, the semantic checks ran only once the schema errors were fixed.
 */
describe('quench validate on a broken OpenSLO document', () => {
  it('reports all four problems with file:line:col in one run', async () => {
    const file = join(process.cwd(), 'test/fixtures/openslo-broken/four-problems.yaml');
    const out: string[] = [];
    const code = await runCli(['validate', file], { stdout: (t) => out.push(t), stderr: (t) => out.push(t), env: {} });
    expect(code).toBe(1);
    const problems = out
      .join('\n')
      .split('\n')
      .filter((l) => l.startsWith(`${file}:`))
      .map((l) => l.slice(file.length + 1));
    expect(problems).toEqual([
      '7:3: metadata.displayName: Invalid input: expected string, received array',
      '10:3: spec.description: Invalid input: expected string, received number',
      '19:7: ratioMetric needs total with good or bad (or raw with rawType)',
      '28:7: target: 1.5: expected a ratio above 0 and below 1 (0.999 is 99.9%); above 100% is more than every event being good',
    ]);
    expect(out.join('\n')).toContain('4 error(s)');
  });
});
