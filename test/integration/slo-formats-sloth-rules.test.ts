import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { rulesFile } from '../../src/slo/core/rules.js';
import { loadSlos } from '../../src/slo/definitions.js';
import type { PeerDaemon } from '../support/peer-daemon.js';
import { prometheusAvailable } from '../support/prometheus.js';
import { exampleSeries, instant, type MetricsTarget, type PromSeries, startMetricsTarget, startScrapingPrometheus } from './slo-formats-harness.js';

/**
 * `quench slo rules` against Sloth's own published output: Sloth's example files are loaded by
 * Quench, and Quench's rules and Sloth's generated rules (examples/_gen) run in two real
 * Prometheus servers scraping the same series. Every recorded series and every firing alert must
 * be the same on both sides: names, label sets and values. Sloth generated its files with
 * `--extra-labels cmd=examplesgen.sh`, so `cmd` is left out of the comparison, and
 * `sloth_slo_info`'s `sloth_version`/`sloth_mode` name the generator (values differ, names do not).
 */
const PROMTOOL = process.env.PROMTOOL_BIN || '/usr/bin/promtool';
const fixtures = join(import.meta.dirname, '../fixtures/sloth');
const examples = readdirSync(join(fixtures, 'examples')).sort();

function slothRules(): string {
  const groups = examples.flatMap((f) =>
    parseAllDocuments(readFileSync(join(fixtures, '_gen', f), 'utf8')).flatMap((d) => (d.toJS() as { groups?: unknown[] } | null)?.groups ?? []),
  );
  return stringify({ groups });
}

const IGNORED = new Set(['cmd']);
const GENERATOR = new Set(['sloth_version', 'sloth_mode']);

function key(s: PromSeries): string {
  const labels = Object.entries(s.labels)
    .filter(([k]) => !IGNORED.has(k))
    .map(([k, v]) => `${k}=${GENERATOR.has(k) ? '*' : v}`)
    .sort();
  return labels.join(',');
}

const QUERY = '{__name__=~"slo:.+|sloth_slo_info"} or ALERTS{alertstate="firing"}';

describe.skipIf(!prometheusAvailable)("quench slo rules against Sloth's published rules (real Prometheus)", () => {
  let target: MetricsTarget;
  let sloth: PeerDaemon;
  let quench: PeerDaemon;
  const { slos, problems } = loadSlos([join(fixtures, 'examples')]);
  const quenchRules = stringify({ groups: rulesFile(slos).groups }, { lineWidth: 0 });

  beforeAll(async () => {
    expect(problems).toEqual([]);
    target = await startMetricsTarget(exampleSeries);
    [sloth, quench] = await Promise.all([startScrapingPrometheus(target.address, slothRules()), startScrapingPrometheus(target.address, quenchRules)]);
  });
  afterAll(async () => {
    await Promise.all([sloth?.stop(), quench?.stop()]);
    await target?.close();
  });

  it('Sloth examples: the same series, label sets and values, alerts included', async () => {
    // Every Sloth recording rule yields one series here; wait for all of them and their period
    // rules (which read recorded samples), on both sides.
    const expected = (slothRules().match(/^\s*- record:/gm) ?? []).length;
    expect(expected).toBeGreaterThan(100);
    let a: PromSeries[];
    let b: PromSeries[];
    for (const deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 500))) {
      [a, b] = await Promise.all([instant(sloth.url, QUERY), instant(quench.url, QUERY)]);
      const recorded = (xs: PromSeries[]) => xs.filter((s) => s.labels.__name__ !== 'ALERTS').length;
      const alerts = (xs: PromSeries[]) => xs.filter((s) => s.labels.__name__ === 'ALERTS').length;
      if (recorded(a) === expected && recorded(b) === expected && alerts(a) > 0 && alerts(a) === alerts(b)) break;
      if (Date.now() > deadline) break;
    }
    const slothByKey = new Map(a.map((s) => [key(s), s]));
    const quenchByKey = new Map(b.map((s) => [key(s), s]));
    expect([...quenchByKey.keys()].sort()).toEqual([...slothByKey.keys()].sort());
    expect(slothByKey.size).toBe(expected + a.filter((s) => s.labels.__name__ === 'ALERTS').length);
    for (const [k, s] of slothByKey) {
      const q = quenchByKey.get(k)!;
      // Sloth writes the budget as 1-0.9990000000000001; Quench as 0.001: equal to 1e-12 relative.
      const rel = Math.abs(q.value - s.value) / Math.max(1e-12, Math.abs(s.value));
      expect(rel, `${k}: Sloth ${s.value}, Quench ${q.value}`).toBeLessThan(1e-9);
    }
    // The ids are Sloth's: <service>-<slo>.
    expect(b.some((s) => s.labels.__name__ === 'sloth_slo_info' && s.labels.sloth_id === 'k8s-apiserver-requests-latency' && s.labels.sloth_slo === 'requests-latency')).toBe(true);
  });

  it.skipIf(!existsSync(PROMTOOL))('the rules pass promtool check rules', () => {
    const dir = mkdtempSync(join(tmpdir(), 'quench-sloth-rules-'));
    try {
      writeFileSync(join(dir, 'rules.yml'), quenchRules);
      const r = spawnSync(PROMTOOL, ['check', 'rules', join(dir, 'rules.yml')], { encoding: 'utf8' });
      expect(`${r.stdout}${r.stderr}`).toContain('SUCCESS');
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
