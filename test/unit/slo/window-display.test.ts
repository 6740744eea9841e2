import { describe, expect, it } from 'vitest';
import { parseYamlSource } from '../../../src/definitions/source.js';
import { pendingStatus } from '../../../src/slo/core/status.js';
import { importSlos } from '../../../src/slo/definitions.js';
import { formatStatusTable } from '../../../src/slo/status-table.js';
import { computeReport } from '../../../src/reports/core/model.js';
import { renderMarkdown } from '../../../src/reports/core/render-markdown.js';
import { windowMs } from '../../../src/reports/core/window.js';
import { reportFacts } from '../../support/report-facts.js';

/**
 * An SLO window is shown in days, however it was written: `28d` had been shown as `4w` and `7d`
 * as `1w` (Prometheus range style, the largest whole unit), while `30d` stayed `30d`, so one
 * table mixed units and a user looked for a `4w` they never wrote. The status's `window` feeds
 * `quench slo status`, `GET /v1/slos` and the weekly report alike.
 */
const sloFile = (name: string, window: string) => `apiVersion: quench/v1
kind: SLO
metadata: { name: ${name} }
service: shop
objective: 99.9
window: ${window}
sli:
  synthetic:
    requestsPerSecond: 1
    script: [{ at: "0", errorRatio: 0 }]
alerting: { enabled: false }
`;

const CASES = [
  ['7d', '7d'],
  ['28d', '28d'],
  ['30d', '30d'],
  ['4w', '28d'],
  ['2w', '14d'],
  ['36h', '36h'],
] as const;

describe('SLO window display', () => {
  const { slos, problems } = importSlos(CASES.flatMap(([written], i) => parseYamlSource(`w${i}.yaml`, sloFile(`w${i}`, written)).documents));
  const statuses = slos.map((s) => pendingStatus(s, 'not_evaluated'));

  it('is in days for whole-day rolling windows, as written otherwise', () => {
    expect(problems).toEqual([]);
    expect(statuses.map((s) => s.window)).toEqual(CASES.map(([, shown]) => shown));
  });

  it('quench slo status and the weekly report show the same days', () => {
    const table = formatStatusTable(statuses);
    const report = computeReport(
      reportFacts({
        period: { start: 0, end: 7 * 86_400_000 },
        slos: statuses.map((s) => ({ name: s.name, service: s.service, objective: s.objective, window: s.window, windowMs: windowMs(s.window)! })),
      }),
      0,
    );
    const md = renderMarkdown(report);
    CASES.forEach(([written, shown], i) => {
      const row = table.split('\n').find((l) => l.startsWith(`w${i} `))!;
      expect(row.split(/\s{2,}/)[3], written).toBe(shown);
      expect(md, written).toContain(`| w${i} | shop | 99.900% | n/a | n/a (${shown}) |`);
    });
    expect(report.slos.map((s) => windowMs(s.window))).toEqual(slos.map((s) => (s.window.kind === 'rolling' ? s.window.ms : null)));
  });
});
