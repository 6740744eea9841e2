import { QuenchError } from '../core/errors.js';
import type { ServiceContext } from '../service.js';
import { type CliIO, cliConfig, withContext } from './command.js';
import { type ServiceClient, serviceClient } from './service-client.js';

/**
 * Where a reading or deciding command gets its answer: the database (DATABASE_URL, or the
 * embedded folder when no process holds it) or the running service over HTTP. The service is
 * used when QUENCH_URL is set, and when the embedded folder is locked by a running
 * `quench serve` (only one process may open it): then http://localhost:PORT, said on stderr.
 */
export type Backend = { kind: 'database'; ctx: ServiceContext } | { kind: 'service'; client: ServiceClient };

export async function withBackend<T>(io: CliIO, fn: (backend: Backend) => Promise<T>, options: { token?: string } = {}): Promise<T> {
  const config = cliConfig(io);
  const token = options.token ?? config.QUENCH_TOKEN;
  if (io.env.QUENCH_URL?.trim()) return fn({ kind: 'service', client: serviceClient(config.QUENCH_URL, token) });
  let locked: QuenchError | undefined;
  try {
    return await withContext(io, (ctx) => fn({ kind: 'database', ctx }));
  } catch (err) {
    if (!(err instanceof QuenchError) || err.code !== 'data_dir_locked') throw err;
    locked = err;
  }
  const url = `http://localhost:${config.PORT}`;
  io.stderr(`${locked.message.split(';')[0]}: asking the running service at ${url} instead (set QUENCH_URL to choose another)\n`);
  return fn({ kind: 'service', client: serviceClient(url, token) });
}
