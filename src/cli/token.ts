import { QuenchError } from '../core/errors.js';
import type { CliIO } from './command.js';

/**
 * The person's API token for commands that act as someone (approve, reject, runs start/cancel,
 * drill, ack, reviews): QUENCH_TOKEN, else the first line piped on standard input, so a token
 * need not appear in the shell history. `example` is the command line shown in the error.
 */
export async function tokenOf(io: CliIO, example: string): Promise<string> {
  const fromEnv = io.env.QUENCH_TOKEN?.trim();
  if (fromEnv) return fromEnv;
  const piped = (await io.stdin?.())?.split(/\r?\n/, 1)[0]?.trim();
  if (piped) return piped;
  throw new QuenchError(
    'unauthorized',
    `no API token: set QUENCH_TOKEN to your token from QUENCH_API_TOKENS, or pipe it on standard input (printf %s "$TOKEN" | ${example})`,
  );
}
