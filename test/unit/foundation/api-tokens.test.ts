import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { describeConfig, loadConfig } from '../../../src/config/load.js';
import { isQuenchError } from '../../../src/core/errors.js';
import { TokenAuthenticator } from '../../../src/http/auth.js';

// Issue 9 §5: short and duplicate tokens refused at start-up; read-only tokens.
const A = 'a'.repeat(31) + '1';
const B = 'b'.repeat(31) + '2';
const failure = (tokens: string) => {
  try {
    loadConfig({ QUENCH_API_TOKENS: tokens });
  } catch (err) {
    if (isQuenchError(err, 'config_invalid')) return err.message;
  }
  throw new Error('expected the configuration to be refused');
};
const request = (token?: string) => ({ headers: token ? { authorization: `Bearer ${token}` } : {} }) as IncomingMessage;

describe('QUENCH_API_TOKENS', () => {
  it('refuses a token shorter than 32 characters, naming the user but never the token', () => {
    const message = failure(`alice=${A},bob=short-but-secret-123`);
    expect(message).toMatch(/QUENCH_API_TOKENS: entry 2 \(bob\): the token is 20 characters; use at least 32/);
    expect(message).not.toMatch(/short-but-secret/);
  });

  it('refuses the same token given twice, and a user listed twice at one access level', () => {
    expect(failure(`alice=${A},bob=${A}`)).toMatch(/entry 2 \(bob\): this token is already given to another entry/);
    expect(failure(`alice:read=${A},bob=${A}`)).toMatch(/already given/);
    expect(failure(`alice=${A},alice=${B}`)).toMatch(/alice is listed twice/);
    expect(failure(`alice:write=${A}`)).toMatch(/user:read=token/);
  });

  it('keeps `user=token` as full access and reads `user:read=token` as read-only', () => {
    const config = loadConfig({ QUENCH_API_TOKENS: `alice=${A}, grafana:read=${B}` });
    expect([...config.QUENCH_API_TOKENS]).toEqual([['alice', A]]);
    expect(config.QUENCH_API_TOKENS.has('grafana')).toBe(false);
    expect([...config.QUENCH_API_TOKENS.readOnly]).toEqual([['grafana', B]]);
    expect(describeConfig(config).QUENCH_API_TOKENS).toEqual(['alice=***', 'grafana:read=***']);

    const auth = new TokenAuthenticator(config.QUENCH_API_TOKENS);
    expect(auth.authorise(request(B), 'read')).toBe('grafana');
    expect(auth.authorise(request(B), 'token')).toBe('grafana');
    expect(() => auth.authorise(request(B), 'write')).toThrow(/read-only/);
    expect(auth.authorise(request(A), 'write')).toBe('alice');
    expect(auth.identify(B)).toBeUndefined();
    expect(() => auth.authorise(request(), 'read')).toThrow(/missing "Authorization/);
  });
});
