import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { commands } from '../../../src/cli/commands/index.js';
import { bashCompletion, completionTree, zshCompletion } from '../../../src/cli/completion.js';
import { runCli } from '../../../src/cli/main.js';

/**
 * `quench completion bash|zsh` is generated from the command table. The bash script is sourced
 * in a real bash and asked for completions the way bash asks (COMP_WORDS / COMP_CWORD).
 */
function complete(line: string[]): string[] {
  const script = `${bashCompletion(commands)}
COMP_WORDS=(${line.map((w) => `'${w}'`).join(' ')})
COMP_CWORD=${line.length - 1}
_quench
printf '%s\\n' "\${COMPREPLY[@]}"
`;
  const result = spawnSync('bash', ['--norc', '--noprofile', '-c', script], { encoding: 'utf8' });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return result.stdout.split('\n').filter(Boolean);
}

describe('shell completion from the command table', () => {
  it('completes top-level commands, sub-commands and each command’s options in bash', () => {
    const top = complete(['quench', '']);
    for (const c of commands) expect(top).toContain(c.path[0]);
    expect(top).toContain('--version');
    expect(complete(['quench', 'd'])).toEqual(['drill', 'dlq']);
    expect(complete(['quench', 'dlq', ''])).toEqual(['list', 'retry', 'inbox', '--all', '--json']);
    expect(complete(['quench', 'dlq', 'inbox', ''])).toEqual(['retry', '--json']);
    expect(complete(['quench', 'runs', 'show', '--'])).toEqual(['--json']);
    expect(complete(['quench', 'audit', 'verify', '--'])).toEqual(['--expect', '--quiet', '--json']);
    expect(complete(['quench', 'completion', ''])).toEqual(['bash', 'zsh']);
    // Options and positionals typed earlier do not lose the command.
    expect(complete(['quench', 'approve', 'step-1', '--comment', 'ok', '--j'])).toEqual(['--json']);
    expect(complete(['quench', 'nonsense', ''])).toEqual(top);
  });

  it('follows the table: a new command completes without touching the script generator', () => {
    const extra = { path: ['widget', 'spin'], summary: 's', help: 'Usage: quench widget spin [--fast]', run: async () => 0 };
    const tree = completionTree([...commands, extra]);
    expect(tree.get('')).toContain('widget');
    expect(tree.get('widget')).toEqual(['spin']);
    expect(tree.get('widget/spin')).toEqual(['--fast']);
  });

  it('zsh gets the same tree, and the command prints either script', async () => {
    const zsh = zshCompletion(commands);
    expect(zsh.startsWith('#compdef quench\n')).toBe(true);
    expect(zsh).toContain(`'dlq' 'list retry inbox --all --json'`);
    let out = '';
    const io = { stdout: (t: string) => (out += t), stderr: () => {}, env: {} };
    expect(await runCli(['completion', 'bash'], io)).toBe(0);
    expect(out).toBe(bashCompletion(commands));
    expect(await runCli(['completion', 'fish'], io)).toBe(2);
  });
});
