import { parseArgs, type ParseArgsConfig } from 'node:util';
import { type Config, loadConfig } from '../config/load.js';
import { QuenchError } from '../core/errors.js';
import { openContext, type ServiceContext } from '../service.js';
import { createLogger } from '../telemetry/logger.js';

export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** Standard input when it is piped (not a terminal), else undefined: how a command reads a secret. */
  stdin?: () => Promise<string | undefined>;
}

export interface Command {
  /** Words that select the command: `['audit', 'verify']`. */
  path: string[];
  summary: string;
  /** Full `--help` text: usage line, options, exit codes. */
  help: string;
  /** Values completed for the command's argument (`quench completion bash|zsh`). */
  argumentWords?: string[];
  /** Returns the exit code. Throwing a QuenchError prints its message and exits 1 (2 for usage). */
  run(args: string[], io: CliIO): Promise<number>;
}

/** parseArgs with usage errors turned into a coded error. */
export function parseOptions<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (err) {
    throw new QuenchError('usage', (err as Error).message);
  }
}

export function cliConfig(io: CliIO): Config {
  return loadConfig(io.env);
}

/** Opens the database (migrating if needed), runs `fn`, closes. Logs go to stderr. */
export async function withContext<T>(io: CliIO, fn: (ctx: ServiceContext) => Promise<T>): Promise<T> {
  const config = cliConfig(io);
  const logger = createLogger(config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL, 'stderr');
  const ctx = await openContext(config, logger);
  try {
    return await fn(ctx);
  } finally {
    await ctx.db.close();
  }
}
