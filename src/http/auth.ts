import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { QuenchError } from '../core/errors.js';
import type { AuthLevel } from './router.js';

/**
 * Bearer tokens from QUENCH_API_TOKENS (`user=token,…`) map to user identities. Tokens are
 * compared as SHA-256 digests in constant time, and every token is checked, so timing says
 * nothing about which one (if any) was close.
 */
export class TokenAuthenticator {
  readonly #digests: Array<{ user: string; digest: Buffer }>;

  constructor(tokens: Map<string, string>) {
    this.#digests = [...tokens].map(([user, token]) => ({ user, digest: digest(token) }));
  }

  get configured(): boolean {
    return this.#digests.length > 0;
  }

  identify(token: string): string | undefined {
    const presented = digest(token);
    let user: string | undefined;
    for (const entry of this.#digests) {
      if (timingSafeEqual(entry.digest, presented) && user === undefined) user = entry.user;
    }
    return user;
  }

  /** The user a request acts as, or a coded error explaining the refusal. */
  authorise(req: IncomingMessage, level: AuthLevel): string | undefined {
    if (level === 'public') return undefined;
    const header = req.headers.authorization;
    const token = header?.match(/^Bearer\s+(.+)$/i)?.[1]?.trim();
    if (level === 'read' && !this.configured) return token ? this.identify(token) : undefined;
    if (!this.configured) {
      throw new QuenchError('forbidden', 'this endpoint needs an API token: set QUENCH_API_TOKENS (user=token,…) on the server');
    }
    if (!token) throw new QuenchError('unauthorized', 'missing "Authorization: Bearer <token>" header');
    const user = this.identify(token);
    if (!user) throw new QuenchError('unauthorized', 'unknown API token');
    return user;
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
