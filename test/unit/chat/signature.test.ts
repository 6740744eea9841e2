import { describe, expect, it } from 'vitest';
import { parseSlackBody, verifySlackSignature } from '../../../src/chat/slack/receiver.js';
import { isQuenchError } from '../../../src/core/errors.js';
import { FORM, interactionBody, signedRequest } from '../../support/slack-signer.js';

const secret = 'shhh-signing-secret';
const now = new Date('2026-01-05T12:00:00Z');
const ts = Math.floor(now.getTime() / 1000);

function check(body: string, headers: Record<string, string>, at = now) {
  return () =>
    verifySlackSignature(secret, { signature: headers['X-Slack-Signature'], timestamp: headers['X-Slack-Request-Timestamp'] }, body, at);
}

describe('Slack v0 request signatures', () => {
  const body = interactionBody({ type: 'block_actions', actions: [] });
  it('accepts a correctly signed request within five minutes', () => {
    const r = signedRequest(secret, body, { timestamp: ts - 299, contentType: FORM });
    expect(check(r.body, r.headers)).not.toThrow();
  });

  it('refuses a bad signature, a tampered body, and a different secret', () => {
    const r = signedRequest(secret, body, { timestamp: ts, contentType: FORM });
    expect(check(`${r.body}x`, r.headers)).toThrow(/does not match/);
    const other = signedRequest('other', body, { timestamp: ts, contentType: FORM });
    expect(check(other.body, other.headers)).toThrow(/SLACK_SIGNING_SECRET/);
    expect(check(body, { ...r.headers, 'X-Slack-Signature': 'v0=zz' })).toThrow(/does not match/);
  });

  it('refuses replays older than five minutes and timestamps from the future', () => {
    const old = signedRequest(secret, body, { timestamp: ts - 301, contentType: FORM });
    const err = (() => {
      try {
        check(old.body, old.headers)();
      } catch (e) {
        return e;
      }
    })();
    expect(isQuenchError(err, 'unauthorized')).toBe(true);
    const future = signedRequest(secret, body, { timestamp: ts + 301, contentType: FORM });
    expect(check(future.body, future.headers)).toThrow(/5 minutes/);
    expect(check(body, { 'X-Slack-Signature': 'v0=00' })).toThrow(/Timestamp/);
  });

  it('parses interactions, slash commands and JSON events', () => {
    expect(parseSlackBody(body, FORM)).toEqual({ type: 'block_actions', actions: [] });
    expect(parseSlackBody('command=%2Fquench&text=status', FORM)).toEqual({ command: '/quench', text: 'status' });
    expect(parseSlackBody('{"type":"url_verification","challenge":"c"}', 'application/json')).toEqual({
      type: 'url_verification',
      challenge: 'c',
    });
    expect(() => parseSlackBody('payload=%7Bnope', FORM)).toThrow(/malformed/);
    // Signed but not an object: a 400, not a TypeError on `body.type` (a 500).
    for (const [body, type] of [
      ['null', 'application/json'],
      ['[1]', 'application/json'],
      ['"x"', 'application/json'],
      ['payload=null', FORM],
      ['payload=7', FORM],
    ] as const) {
      const refused = (() => {
        try {
          parseSlackBody(body, type);
        } catch (err) {
          return err;
        }
      })();
      expect(isQuenchError(refused, 'bad_request'), body).toBe(true);
      expect((refused as Error).message).toMatch(/expected a JSON object/);
    }
  });
});
