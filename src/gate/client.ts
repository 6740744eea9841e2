import { QuenchError } from '../core/errors.js';

/**
 * The CLI's way to the running service (`QUENCH_URL`, `QUENCH_TOKEN`): the gate commands ask
 * the service, so they work beside `quench serve` on the embedded database, from any CI runner.
 */
export interface ServiceAnswer {
  status: number;
  body: Record<string, unknown>;
}

export async function callService(base: string, token: string | undefined, method: string, path: string, body?: unknown): Promise<ServiceAnswer> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new QuenchError('internal', `cannot reach Quench at ${base} (${(err as Error).message}); set QUENCH_URL to the running service`);
  }
  const text = await res.text();
  try {
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  } catch {
    throw new QuenchError('internal', `Quench at ${base} answered ${res.status} with non-JSON: ${text.slice(0, 200)}`);
  }
}

/** The JSON error shape's message, for stderr. */
export function errorMessage(a: ServiceAnswer): string {
  const { error, message } = a.body as { error?: string; message?: string };
  return `${a.status}${error ? ` ${error}` : ''}: ${message ?? JSON.stringify(a.body).slice(0, 300)}`;
}
