import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/main.js';

/** Runs the CLI in-process and captures its output. */
async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env: {} });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

const dir = mkdtempSync(join(tmpdir(), 'quench-pb-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('quench schema', () => {
  it('prints the playbook JSON Schema, with the recursive step definition', async () => {
    const { code, stdout } = await cli(['schema', 'playbook']);
    expect(code).toBe(0);
    const schema = JSON.parse(stdout);
    expect(schema).toMatchObject({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: 'urn:quench:schema:playbook',
      type: 'object',
    });
    expect(schema.required).toEqual(['apiVersion', 'kind', 'metadata', 'steps']);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.steps.items).toEqual({ $ref: '#/$defs/PlaybookStep' });
    const kinds = schema.$defs.PlaybookStep.oneOf.map((s: { properties: { kind: { const: string } } }) => s.properties.kind.const);
    expect(kinds).toEqual(['action', 'human', 'decide', 'wait', 'parallel']);
    // Parallel branches refer back to the step definition.
    const parallel = schema.$defs.PlaybookStep.oneOf[4];
    expect(JSON.stringify(parallel.properties.branches)).toContain('#/$defs/PlaybookStep');
    // Durations carry a pattern editors can check.
    expect(schema.properties.sla.properties.acknowledge.pattern).toBeDefined();
    expect(new RegExp(schema.properties.sla.properties.acknowledge.pattern).test('1h30m')).toBe(true);
    expect(new RegExp(schema.properties.sla.properties.acknowledge.pattern).test('90 minutes')).toBe(false);
  });

  it('prints the SLO schema and writes to a file with --out', async () => {
    const out = join(dir, 'slo.schema.json');
    const { code, stderr } = await cli(['schema', 'slo', '--out', out]);
    expect(code).toBe(0);
    expect(stderr).toBe(`wrote ${out}\n`);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({ $id: 'urn:quench:schema:slo', properties: { kind: { const: 'SLO' } } });
  });

  it('refuses a missing or unknown kind with a usage error', async () => {
    expect(await cli(['schema'])).toMatchObject({ code: 2, stderr: expect.stringContaining('expected one KIND: playbook, slo') });
    expect(await cli(['schema', 'runbook'])).toMatchObject({ code: 2, stderr: expect.stringContaining("unknown KIND 'runbook'") });
  });
});

describe('quench validate with playbooks', () => {
  it('prints file:line:col for a broken playbook and exits 1', async () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(
      file,
      `apiVersion: quench/v1
kind: Playbook
metadata: { name: broken, owner: me }
steps:
  - id: a
    kind: decide
    branches: [{ when: "trigger.severity ==", next: b }]
  - { id: b, kind: action, action: http.request, params: { url: not-a-url } }
  - { id: c, kind: action, action: pagerduty.trigger, params: { summary: x }, next: a }
`,
    );
    const { code, stdout } = await cli(['validate', file]);
    expect(code).toBe(1);
    expect(stdout.trim().split('\n')).toEqual([
      `${file}:7:18: CEL syntax error at character 20 of 'trigger.severity ==': Unexpected token: EOF`,
      `${file}:8:60: http.request: parameter 'url': expected an http(s) URL`,
      `${file}:9:79: cycle: a → b → c → a; loops are not allowed (use retry, or wait … until with a timeout)`,
    ]);
  });

  it('accepts the shipped examples', async () => {
    const { code, stderr } = await cli(['validate', 'playbooks']);
    expect(stderr).toMatch(/3 file\(s\), 3 document\(s\): valid/);
    expect(code).toBe(0);
  });
});
