import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { QuenchError } from '../core/errors.js';
import type { AuthLevel } from './router.js';

/** What a bearer token grants: `full` reads and decides as its user; `read` only reads `/v1`. */
export type Access = 'full' | 'read';

/**
 * Bearer tokens from QUENCH_API_TOKENS map to user identities (src/config/api-tokens.ts).
 * Tokens are compared as SHA-256 digests in constant time, and every token is checked, so
 * timing says nothing about which one (if any) was close.
 */
export class TokenAuthenticator {
  readonly #digests: Array<{ user: string; access: Access; digest: Buffer }>;

  /** `tokens`: user → full-access token; read-only ones from `readOnly` (or the map's own `readOnly`, as config gives it). */
  constructor(tokens: Map<string, string>, readOnly?: Map<string, string>) {
    const reads = readOnly ?? (tokens as { readOnly?: Map<string, string> }).readOnly ?? new Map<string, string>();
    this.#digests = [
      ...[...tokens].map(([user, token]) => ({ user, access: 'full' as const, digest: digest(token) })),
      ...[...reads].map(([user, token]) => ({ user, access: 'read' as const, digest: digest(token) })),
    ];
  }

  get configured(): boolean {
    return this.#digests.length > 0;
  }

  /** The user and access level behind a token, if it is one of ours. */
  identity(token: string): { user: string; access: Access } | undefined {
    const presented = digest(token);
    let found: { user: string; access: Access } | undefined;
    for (const entry of this.#digests) {
      if (timingSafeEqual(entry.digest, presented) && found === undefined) found = { user: entry.user, access: entry.access };
    }
    return found;
  }

  /** The user a full-access token belongs to (read-only tokens name nobody who may decide). */
  identify(token: string): string | undefined {
    const found = this.identity(token);
    return found?.access === 'full' ? found.user : undefined;
  }

  /** The user a request acts as, or a coded error explaining the refusal. */
  authorise(req: IncomingMessage, level: AuthLevel): string | undefined {
    if (level === 'public') return undefined;
    const header = req.headers.authorization;
    const token = header?.match(/^Bearer\s+(.+)$/i)?.[1]?.trim();
    // Without tokens the server listens on 127.0.0.1 only (src/service.ts), so open reads stay local.
    if (level === 'read' && !this.configured) return token ? this.identify(token) : undefined;
    if (!this.configured) {
      throw new QuenchError('forbidden', 'this endpoint needs an API token: set QUENCH_API_TOKENS (user=token,…) on the server');
    }
    if (!token) throw new QuenchError('unauthorized', 'missing "Authorization: Bearer <token>" header');
    const found = this.identity(token);
    if (!found) throw new QuenchError('unauthorized', 'unknown API token');
    if (level === 'write' && found.access !== 'full') {
      throw new QuenchError('forbidden', `the token of ${found.user} is read-only (user:read=… in QUENCH_API_TOKENS); deciding needs a full token`);
    }
    return found.user;
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
