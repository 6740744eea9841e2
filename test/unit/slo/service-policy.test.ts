import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/main.js';
import { formatProblem } from '../../../src/definitions/problem.js';
import { parseYamlSource } from '../../../src/definitions/source.js';
import { importSlos } from '../../../src/slo/definitions.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** `kind: ServicePolicy`: budget policy fields for every SLO of a service that does not set its own. */
const slo = (name: string, service: string, policy = '') => `apiVersion: quench/v1
kind: SLO
metadata: { name: ${name} }
service: ${service}
objective: 99.9
sli: { raw: { errorRatioQuery: "x" } }
${policy}`;

const servicePolicy = (service: string, policy: string) => `apiVersion: quench/v1
kind: ServicePolicy
service: ${service}
budgetPolicy: ${policy}
`;

const importFiles = (...files: [string, string][]) => importSlos(files.flatMap(([file, text]) => parseYamlSource(file, text).documents));

describe('ServicePolicy', () => {
  it('applies its fields to every SLO of the service; an SLO field wins over it, field by field', () => {
    const { slos, problems } = importFiles(
      ['policy.yaml', servicePolicy('checkout', '{ freezeBelow: 20, freezeOnPage: false, freezeExpiresAfter: 4h, freezeWhenExhaustedWithin: 1d }')],
      ['a.yaml', slo('checkout-availability', 'checkout')],
      ['b.yaml', slo('checkout-latency', 'checkout', 'budgetPolicy: { freezeBelow: 40, freezeExpiresAfter: 30m }\n')],
      ['c.yaml', slo('search-availability', 'search')],
    );
    expect(problems).toEqual([]);
    const policy = Object.fromEntries(slos.map((s) => [s.name, s.policy]));
    expect(policy['checkout-availability']).toEqual({
      freezeBelow: 0.2,
      freezeAllBelow: null,
      recoverAbove: 0.25,
      freezeOnPage: false,
      freezeWhenExhaustedWithinMs: 86_400_000,
      freezeExpiresAfterMs: 14_400_000,
    });
    // Its own freezeBelow (and the recoverAbove default derived from it) and expiry; the rest from the service.
    expect(policy['checkout-latency']).toMatchObject({ freezeBelow: 0.4, recoverAbove: 0.45, freezeOnPage: false, freezeWhenExhaustedWithinMs: 86_400_000, freezeExpiresAfterMs: 1_800_000 });
    // Another service keeps the defaults.
    expect(policy['search-availability']).toEqual({
      freezeBelow: 0,
      freezeAllBelow: null,
      recoverAbove: 0.05,
      freezeOnPage: true,
      freezeWhenExhaustedWithinMs: null,
      freezeExpiresAfterMs: null,
    });
  });

  it('applies to OpenSLO SLOs of the service too', () => {
    const { slos, problems } = importFiles(
      ['policy.yaml', servicePolicy('s', '{ freezeBelow: 10 }')],
      [
        'o.yaml',
        `apiVersion: openslo/v1
kind: SLO
metadata: { name: o }
spec:
  service: s
  indicator: { spec: { ratioMetric: { rawType: failure, raw: { metricSource: { type: Prometheus, spec: { query: x } } } } } }
  timeWindow: [{ duration: 28d, isRolling: true }]
  budgetingMethod: Occurrences
  objectives: [{ target: 0.99 }]
`,
      ],
    );
    expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(slos[0]?.policy).toMatchObject({ freezeBelow: 0.1, recoverAbove: 0.15 });
  });

  it('an unknown service is an error at its service field, naming the known services', () => {
    const { problems } = importFiles(['policy.yaml', `# typo\n${servicePolicy('chekout', '{ freezeBelow: 20 }')}`], ['a.yaml', slo('checkout-availability', 'checkout')]);
    expect(problems.map(formatProblem)).toEqual([
      "policy.yaml:4:1: unknown service 'chekout': no SLO names it (services: checkout); fix the name or remove this ServicePolicy",
    ]);
  });

  it('two policies for one service conflict: an error at the second, pointing at the first', () => {
    const { problems } = importFiles(
      ['a.yaml', `${servicePolicy('checkout', '{ freezeBelow: 20 }')}---\n${slo('checkout-availability', 'checkout')}`],
      ['b.yaml', servicePolicy('checkout', '{ freezeBelow: 30 }')],
    );
    expect(problems.map(formatProblem)).toEqual([
      'b.yaml:3:1: conflicting ServicePolicy for service checkout (first defined at a.yaml:3:1): merge them into one document',
    ]);
  });

  it('bad fields are reported at their position, like SLO fields', () => {
    const { problems } = importFiles(
      ['policy.yaml', servicePolicy('checkout', '{ freezeBelow: 20, freezeExpiresAfter: soon, thaw: true }')],
      ['a.yaml', slo('checkout-availability', 'checkout')],
    );
    const lines = problems.map(formatProblem);
    expect(lines.some((l) => l.startsWith('policy.yaml:4:') && l.includes('expected a duration'))).toBe(true);
    expect(lines.some((l) => l.startsWith('policy.yaml:4:') && l.includes('thaw'))).toBe(true);
  });

  it('`quench validate` accepts a ServicePolicy beside its SLO and refuses one for an unknown service (exit 1)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quench-service-policy-'));
    try {
      writeFileSync(join(dir, 'slo.yaml'), slo('checkout-availability', 'checkout'));
      writeFileSync(join(dir, 'policy.yaml'), servicePolicy('checkout', '{ freezeBelow: 20, freezeExpiresAfter: 4h }'));
      let out = '';
      const io = { stdout: (t: string) => (out += t), stderr: (t: string) => (out += t), env: { QUENCH_DATA_DIR: 'memory://' } };
      expect(await runCli(['validate', dir], io)).toBe(0);
      writeFileSync(join(dir, 'policy.yaml'), servicePolicy('payments', '{ freezeBelow: 20 }'));
      out = '';
      expect(await runCli(['validate', dir], io)).not.toBe(0);
      expect(out).toContain("policy.yaml:3:1: unknown service 'payments'");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
