import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/main.js';

/**
 * Issue 15: the JSON Schemas editors use are committed in schemas/ and must equal what
 * `quench schema KIND` generates (regenerate with `quench schema playbook --out
 * schemas/playbook.json`, likewise slo); the example files name them on their first line.
 */
const root = process.cwd();

describe('committed JSON Schemas', () => {
  it.each(['playbook', 'slo'])('schemas/%s.json equals `quench schema %s`', async (kind) => {
    const out: string[] = [];
    const code = await runCli(['schema', kind], { stdout: (t) => out.push(t), stderr: () => undefined, env: {} });
    expect(code).toBe(0);
    expect(readFileSync(join(root, 'schemas', `${kind}.json`), 'utf8')).toBe(out.join(''));
  });

  const examples = [
    ...readdirSync(join(root, 'playbooks')).map((f) => ({ file: join('playbooks', f), kind: 'playbook' })),
    // OpenSLO files follow the OpenSLO spec's own schema; the quench/v1 ones point at ours.
    ...readdirSync(join(root, 'slo'))
      .filter((f) => /^apiVersion: quench\/v1$/m.test(readFileSync(join(root, 'slo', f), 'utf8')))
      .map((f) => ({ file: join('slo', f), kind: 'slo' })),
  ].filter((e) => e.file.endsWith('.yaml'));

  it.each(examples)('$file starts with the yaml-language-server line for the $kind schema', ({ file, kind }) => {
    const first = readFileSync(join(root, file), 'utf8').split('\n')[0]!;
    const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
    expect(m).not.toBeNull();
    const target = resolve(dirname(join(root, file)), m![1]!);
    expect(target).toBe(join(root, 'schemas', `${kind}.json`));
    expect(existsSync(target)).toBe(true);
  });
});
