import { QuenchError } from '../core/errors.js';

/**
 * The CLI's one way to the running service over HTTP (`QUENCH_URL`, `QUENCH_TOKEN`). Every
 * failure becomes a QuenchError whose message says what to do: an unreachable service names
 * the URL and how to point the CLI elsewhere; 401/403 say which token is missing or too weak.
 */
export interface ServiceClient {
  readonly url: string;
  /** The parsed JSON body of a 2xx answer; anything else throws. */
  request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown>;
}

const TIMEOUT_MS = 120_000;

export function serviceClient(url: string, token: string | undefined, fetchImpl: typeof fetch = fetch): ServiceClient {
  const base = url.replace(/\/+$/, '');
  return {
    url: base,
    async request(method, path, body) {
      let res: Response;
      try {
        res = await fetchImpl(`${base}${path}`, {
          method,
          headers: {
            accept: 'application/json',
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
      } catch (err) {
        throw unreachable(base, err);
      }
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : {};
      } catch {
        throw new QuenchError('internal', `${base} answered ${res.status} with something that is not Quench's JSON (${text.slice(0, 120)}); is QUENCH_URL a Quench service?`);
      }
      if (res.ok) return parsed;
      throw answerError(base, res.status, parsed, token !== undefined);
    },
  };
}

function unreachable(base: string, err: unknown): QuenchError {
  const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
  const why = cause === 'TimeoutError' ? `did not answer within ${TIMEOUT_MS / 1000} s` : `is not reachable (${cause ?? (err as Error).message})`;
  return new QuenchError(
    'internal',
    `the Quench service at ${base} ${why}. Start it ('npm start' or 'quench serve'), or set QUENCH_URL to where it listens` +
      ' (or DATABASE_URL / QUENCH_DATA_DIR to read the database directly when no service holds it)',
  );
}

/** A non-2xx answer in Quench's JSON error shape ({error, message}) as a coded error. */
function answerError(base: string, status: number, body: unknown, sentToken: boolean): QuenchError {
  const { error, message } = (body ?? {}) as { error?: string; message?: string };
  const said = message ?? `HTTP ${status}`;
  if (status === 401)
    return new QuenchError(
      'unauthorized',
      sentToken
        ? `${base} refused QUENCH_TOKEN: ${said}. Use a token listed in the service's QUENCH_API_TOKENS`
        : `${base} needs an API token: ${said}. Set QUENCH_TOKEN to one of the service's QUENCH_API_TOKENS`,
    );
  if (status === 403) return new QuenchError('forbidden', `${base} refused: ${said}`);
  if (status === 404) return new QuenchError('not_found', said);
  if (status === 409) return new QuenchError('conflict', said);
  if (status >= 400 && status < 500) return new QuenchError('bad_request', `${said}${error ? ` (${error})` : ''}`);
  return new QuenchError('internal', `${base} failed (${status}${error ? ` ${error}` : ''}): ${said}`);
}
