import { readFileSync } from 'node:fs';
import { asQuenchError } from '../core/errors.js';
import type { CliIO, Command } from './command.js';
import { commands } from './commands/index.js';

/** The version in package.json (one folder up from src/ and dist/ alike). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

export function overview(): string {
  const width = Math.max(...commands.map((c) => c.path.join(' ').length));
  const lines = commands.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`);
  return `Usage: quench <command> [options]

Quench: SLO-governed incident-response automation.

Commands:
${lines.join('\n')}

Run 'quench <command> --help' for a command's options. Configuration comes from the
environment; see the README.
`;
}

/** Finds the command whose path is the longest prefix of argv. */
function resolve(argv: string[]): { command?: Command; rest: string[]; group: string[] } {
  let best: Command | undefined;
  for (const c of commands) {
    if (c.path.every((word, i) => argv[i] === word) && (!best || c.path.length > best.path.length)) best = c;
  }
  if (best) return { command: best, rest: argv.slice(best.path.length), group: [] };
  const group = commands.filter((c) => c.path.length > 1 && c.path[0] === argv[0]);
  return { rest: argv, group: group.map((c) => c.path.join(' ')) };
}

export async function runCli(argv: string[], io: CliIO): Promise<number> {
  if (argv.length === 0) {
    io.stderr(overview());
    return 2;
  }
  if (argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.stdout(overview());
    return 0;
  }
  if (argv[0] === '--version' || argv[0] === '-V') {
    io.stdout(`quench ${packageVersion()}\n`);
    return 0;
  }
  const { command, rest, group } = resolve(argv);
  if (!command) {
    if (group.length > 0) io.stderr(`quench ${argv[0]}: expected one of: ${group.join(', ')}\n`);
    else io.stderr(`quench: unknown command '${argv[0]}'. Run 'quench --help' for the list.\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(`${command.help}\n`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    const error = asQuenchError(err);
    io.stderr(`quench ${command.path.join(' ')}: ${error.message}\n`);
    if (error.code === 'usage') io.stderr(`Run 'quench ${command.path.join(' ')} --help' for usage.\n`);
    return error.code === 'usage' ? 2 : 1;
  }
}

/**
 * The process entry point, called by bin/quench.js. (Detecting "am I the main module" from
 * argv breaks when the bin is reached through npm's symlinks or a global install.)
 */
export async function main(): Promise<never> {
  const io: CliIO = {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: process.env,
    stdin: () => (process.stdin.isTTY ? Promise.resolve(undefined) : firstLine(process.stdin)),
  };
  const code = await runCli(process.argv.slice(2), io);
  // Let stdout drain, then exit even if a library left a handle open.
  return new Promise<never>(() => process.stdout.write('', () => process.exit(code)));
}

/** The first line of a stream (at most 4 KiB), without waiting for the writer to close it. */
function firstLine(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const done = () => {
      stream.removeListener('data', onData);
      stream.removeListener('end', done);
      stream.removeListener('error', reject);
      (stream as NodeJS.ReadStream).pause?.();
      resolve(text);
    };
    const onData = (chunk: Buffer | string) => {
      text += chunk.toString();
      if (text.includes('\n') || text.length > 4096) done();
    };
    stream.on('data', onData);
    stream.once('end', done);
    stream.once('error', reject);
  });
}
