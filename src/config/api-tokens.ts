import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * QUENCH_API_TOKENS: `user=token` grants full access (read, and decide human steps as
 * `user`); `user:read=token` grants read-only access to `/v1` (dashboards, scripts). Entries
 * are separated by commas or newlines, or the variable names a file holding them.
 *
 * The map itself holds the full-access tokens (user → token), as it always has, so
 * `tokens.has(user)` still means "may decide"; read-only tokens sit apart on `readOnly`.
 */
export class ApiTokens extends Map<string, string> {
  readonly readOnly = new Map<string, string>();
}

/** Shortest token accepted: 32 characters is 192 bits of base64 randomness (`openssl rand -base64 24`). */
export const MIN_TOKEN_LENGTH = 32;
const USER = /^[^\s=:,#]+$/;

export const apiTokensSchema = z
  .preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), z.string().optional())
  .transform((raw, ctx) => {
    const tokens = new ApiTokens();
    if (raw === undefined) return tokens;
    const text = !raw.includes('=') && existsSync(raw) ? readFileSync(raw, 'utf8') : raw;
    const seenTokens = new Set<string>();
    // Messages name the entry by position and user, never the token: it is a secret.
    const problem = (message: string) => {
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    };
    let position = 0;
    for (const item of text.split(/[,\n]/).map((s) => s.trim())) {
      if (item === '' || item.startsWith('#')) continue;
      position++;
      const eq = item.indexOf('=');
      const left = item.slice(0, Math.max(eq, 0)).trim();
      const token = item.slice(eq + 1).trim();
      const [user = '', scope, ...extra] = left.split(':');
      if (eq <= 0 || token === '' || !USER.test(user) || extra.length > 0 || (scope !== undefined && scope !== 'read')) {
        return problem(`entry ${position}: expected user=token (full access) or user:read=token (read-only), separated by commas`);
      }
      if (token.length < MIN_TOKEN_LENGTH) {
        return problem(
          `entry ${position} (${left}): the token is ${token.length} characters; use at least ${MIN_TOKEN_LENGTH} random ones (openssl rand -base64 32)`,
        );
      }
      if (seenTokens.has(token)) return problem(`entry ${position} (${left}): this token is already given to another entry; every token must be unique`);
      seenTokens.add(token);
      // Decisions compare people without case (docs/slack.md): two spellings of one name would
      // be one person there and two elsewhere (the gate's override four-eyes compares exactly).
      const spelled = [...tokens.keys(), ...tokens.readOnly.keys()].find((u) => u !== user && u.toLowerCase() === user.toLowerCase());
      if (spelled !== undefined) {
        return problem(`entry ${position}: ${user} and ${spelled} differ only in case; a person has one name (use the same spelling)`);
      }
      const map = scope === 'read' ? tokens.readOnly : tokens;
      if (map.has(user)) return problem(`entry ${position}: ${left} is listed twice; give each user one token per access level`);
      map.set(user, token);
    }
    return tokens;
  });
