import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli } from '../../../src/cli/main.js';
import { rulesFor } from '../../../src/slo/core/rules.js';
import { loadSlos } from '../../../src/slo/definitions.js';

const PROMTOOL = process.env.PROMTOOL_BIN || '/usr/bin/promtool';
const root = join(import.meta.dirname, '../../..');
const fixtures = join(root, 'test/fixtures');

async function rules(sloDir: string) {
  let out = '';
  let err = '';
  const code = await runCli(['slo', 'rules'], { stdout: (t) => (out += t), stderr: (t) => (err += t), env: { QUENCH_SLO_DIR: sloDir } });
  return { code, out, err };
}

function promtool(text: string): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'quench-rules-'));
  try {
    writeFileSync(join(dir, 'rules.yml'), text);
    const r = spawnSync(PROMTOOL, ['check', 'rules', join(dir, 'rules.yml')], { encoding: 'utf8' });
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('quench slo rules', () => {
  it('prints Sloth-compatible recording and alerting rules for the examples', async () => {
    const r = await rules(join(root, 'slo'));
    expect(r.code).toBe(0);
    expect(r.err).toContain('skipped (not evaluated from Prometheus): demo-checkout-synthetic');
    const file = parse(r.out) as { groups: Array<{ name: string; rules: Array<Record<string, unknown>> }> };
    const checkout = file.groups.filter((g) => g.name.endsWith('checkout-availability'));
    expect(checkout.map((g) => g.name)).toEqual([
      'quench-slo-sli-recordings-checkout-availability',
      'quench-slo-meta-recordings-checkout-availability',
      'quench-slo-alerts-checkout-availability',
    ]);
    const records = checkout[0]!.rules.filter((x) => String(x.record).startsWith('slo:sli_error:')).map((x) => x.record);
    expect(records).toEqual(['5m', '30m', '1h', '2h', '6h', '1d', '3d', '30d'].map((w) => `slo:sli_error:ratio_rate${w}`));
    const alerts = checkout[2]!.rules;
    expect(alerts.map((a) => [a.alert, (a.labels as Record<string, string>).severity, a.for])).toEqual([
      ['CheckoutAvailabilityErrorBudgetBurn', 'page', '2m'],
      ['CheckoutAvailabilityErrorBudgetBurn', 'ticket', '15m'],
    ]);
    // Sloth's id: <service>-<slo>.
    expect(String(alerts[0]!.expr)).toContain('slo:sli_error:ratio_rate5m{sloth_id="checkout-checkout-availability"');
    expect(String(alerts[0]!.expr)).toContain('> (14.4 * 0.001)');
  });

  it('the factors in the alerts are scaled to the window (28 days: 13.44, 5.6, 2.8, 0.933)', () => {
    const { slos } = loadSlos([join(fixtures, 'slo/pyrra-style.yaml')]);
    const groups = rulesFor(slos[1]!)!; // api-latency, 2w; use api-errors (4w) below
    expect(groups).toHaveLength(3);
    const expr = rulesFor(slos[0]!)!
      .flatMap((g) => g.rules)
      .filter((r) => r.alert)
      .map((r) => String(r.expr))
      .join('\n');
    for (const f of ['13.44', '5.6', '2.8', '0.9333']) expect(expr).toContain(`(${f}`);
  });

  it.skipIf(!existsSync(PROMTOOL))('output passes promtool check rules (examples and users’ files)', async () => {
    for (const dir of [
      join(root, 'slo'),
      join(fixtures, 'slo/sloth-style.yaml'),
      join(fixtures, 'slo/pyrra-style.yaml'),
      join(fixtures, 'slo/timeslices.yaml'),
    ]) {
      const r = await rules(dir);
      expect(r.code).toBe(0);
      const check = promtool(r.out);
      expect(check.output).toContain('SUCCESS');
      expect(check.status).toBe(0);
    }
  });

  it.skipIf(!existsSync(PROMTOOL))('labels whose names Prometheus refuses (app.kubernetes.io/name, cost-center) are renamed as Prometheus renames them; __ names are left out', async () => {
    const r = await rules(join(fixtures, 'slo-labels'));
    expect(r.code).toBe(0);
    const check = promtool(r.out);
    expect(check.output).toContain('SUCCESS');
    expect(check.status).toBe(0);
    const file = parse(r.out) as { groups: Array<{ rules: Array<{ labels?: Record<string, string> }> }> };
    const labelsOf = (id: string) => file.groups.flatMap((g) => g.rules).find((x) => x.labels?.sloth_id === id)!.labels!;
    expect(labelsOf('web-web-availability')).toMatchObject({ app_kubernetes_io_name: 'web', cost_center: '1234', team: 'platform' });
    const shop = labelsOf('shop-shop-errors');
    expect(shop).toMatchObject({ app_kubernetes_io_part_of: 'shop', _9lives: 'yes' });
    expect(Object.keys(shop).filter((k) => k.startsWith('__') || /[^a-zA-Z0-9_]/.test(k))).toEqual([]);
  });

  it.skipIf(!existsSync(PROMTOOL))('promtool would catch a broken rule file (the check can fail)', () => {
    expect(promtool('groups:\n  - name: x\n    rules:\n      - record: slo:bad\n        expr: sum(\n').status).not.toBe(0);
  });
});
