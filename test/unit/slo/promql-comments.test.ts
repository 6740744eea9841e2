import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseYamlSource } from '../../../src/definitions/source.js';
import { windowExpressions } from '../../../src/slo/core/promql.js';
import { rulesFor } from '../../../src/slo/core/rules.js';
import { importSlos } from '../../../src/slo/definitions.js';

/**
 * PromQL allows `#` comments to the end of a line, and multi-line queries in YAML block scalars
 * carry them. Wrapped by Quench (`increase((…)[1h:])`), a comment on the last line swallowed
 * the closing parentheses: the rule file and every evaluation query failed to parse.
 */
const PROMTOOL = process.env.PROMTOOL_BIN || '/usr/bin/promtool';
const H = 3_600_000;

const file = `apiVersion: openslo/v1
kind: SLO
metadata: { name: commented }
spec:
  service: svc
  indicator:
    metadata: { name: s }
    spec:
      ratioMetric:
        good:
          metricSource:
            type: Prometheus
            spec:
              query: |
                # requests answered without a server error
                sum(http_requests_total{code!~"5..", path!="/a#b"}) # good
        total:
          metricSource:
            type: Prometheus
            spec:
              query: 'sum(http_requests_total) # all, as rate(x[5m]) would say'
  timeWindow: [{ duration: 30d, isRolling: true }]
  budgetingMethod: Occurrences
  objectives: [{ target: 0.99 }]
---
apiVersion: quench/v1
kind: SLO
metadata: { name: commented-raw }
service: svc
objective: 99
window: 30d
sli:
  raw:
    errorRatioQuery: |
      sum(rate(errors_total[{{window}}])) # errors
      /
      sum(rate(requests_total[{{window}}])) # over requests
`;

describe('PromQL comments in users’ queries', () => {
  const { slos, problems } = importSlos(parseYamlSource('c.yaml', file).documents);
  const named = (name: string) => slos.find((s) => s.name === name)!;

  it('are left out of the queries Quench writes; a # inside a label value is kept', () => {
    expect(problems).toEqual([]);
    const { sli, budgeting } = named('commented');
    const { parts } = windowExpressions(sli, budgeting, H);
    expect(parts.total).toBe('sum(increase((sum(http_requests_total))[1h:]))');
    expect(parts.errors).toContain('path!="/a#b"');
    expect(parts.errors).not.toContain('# good');
    const raw = named('commented-raw');
    expect(windowExpressions(raw.sli, raw.budgeting, H).parts.ratio).not.toContain('#');
  });

  it.skipIf(!existsSync(PROMTOOL))('give a rule file promtool accepts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'quench-comments-'));
    try {
      const groups = slos.flatMap((s) => rulesFor(s) ?? []);
      writeFileSync(join(dir, 'rules.json'), JSON.stringify({ groups }));
      const r = spawnSync(PROMTOOL, ['check', 'rules', join(dir, 'rules.json')], { encoding: 'utf8' });
      expect(`${r.stdout}${r.stderr}`).toContain('SUCCESS');
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
