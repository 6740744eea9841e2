import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isQuenchError } from '../../../src/core/errors.js';
import { verifyAlertmanagerAuth, verifyGeneric, verifyPagerDuty } from '../../../src/ingest/signatures.js';

const hmac = (secret: string, data: string) => createHmac('sha256', secret).update(data).digest('hex');
const reasonOf = (fn: () => void) => {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (!isQuenchError(err, 'unauthorized')) throw err;
    return String(err.details?.reason);
  }
};

describe('PagerDuty X-PagerDuty-Signature', () => {
  const body = Buffer.from('{"event":{"id":"E1"}}');
  it('accepts a v1 signature of the raw body', () => {
    expect(reasonOf(() => verifyPagerDuty(`v1=${hmac('s3cret', body.toString())}`, body, ['s3cret']))).toBe('ok');
  });
  it('accepts any of several signatures during a rotation, and any configured secret', () => {
    const header = `v1=${hmac('old', body.toString())},v1=${hmac('new', body.toString())}`;
    expect(reasonOf(() => verifyPagerDuty(header, body, ['new']))).toBe('ok');
    expect(reasonOf(() => verifyPagerDuty(`v1=${hmac('old', body.toString())}`, body, ['new', 'old']))).toBe('ok');
  });
  it('refuses a missing header, a wrong secret, a changed body and malformed hex', () => {
    expect(reasonOf(() => verifyPagerDuty(undefined, body, ['s3cret']))).toBe('missing_signature');
    expect(reasonOf(() => verifyPagerDuty(`v1=${hmac('other', body.toString())}`, body, ['s3cret']))).toBe('bad_signature');
    expect(reasonOf(() => verifyPagerDuty(`v1=${hmac('s3cret', body.toString())}`, Buffer.from(`${body} `), ['s3cret']))).toBe(
      'bad_signature',
    );
    expect(reasonOf(() => verifyPagerDuty('v1=zz', body, ['s3cret']))).toBe('bad_signature');
    expect(reasonOf(() => verifyPagerDuty(`v0=${hmac('s3cret', body.toString())}`, body, ['s3cret']))).toBe('bad_signature');
  });
});

describe('generic X-Quench-Signature', () => {
  const body = Buffer.from('{"id":"1","type":"t","summary":"s"}');
  const now = Date.parse('2026-11-21T12:00:00Z');
  const ts = String(now / 1000);
  const sign = (t: string, secret = 'k') => `sha256=${hmac(secret, `${t}.${body}`)}`;

  it('accepts an HMAC over "<timestamp>.<body>" within five minutes either way', () => {
    expect(reasonOf(() => verifyGeneric({ timestamp: ts, signature: sign(ts) }, body, 'k', now))).toBe('ok');
    const early = String(now / 1000 - 299);
    const late = String(now / 1000 + 299);
    expect(reasonOf(() => verifyGeneric({ timestamp: early, signature: sign(early) }, body, 'k', now))).toBe('ok');
    expect(reasonOf(() => verifyGeneric({ timestamp: late, signature: sign(late) }, body, 'k', now))).toBe('ok');
  });
  it('refuses stale and future timestamps even when correctly signed', () => {
    const stale = String(now / 1000 - 301);
    const future = String(now / 1000 + 301);
    expect(reasonOf(() => verifyGeneric({ timestamp: stale, signature: sign(stale) }, body, 'k', now))).toBe('stale_timestamp');
    expect(reasonOf(() => verifyGeneric({ timestamp: future, signature: sign(future) }, body, 'k', now))).toBe('stale_timestamp');
  });
  it('refuses a signature made for another timestamp, another secret, or without the prefix', () => {
    const other = String(now / 1000 - 10);
    expect(reasonOf(() => verifyGeneric({ timestamp: ts, signature: sign(other) }, body, 'k', now))).toBe('bad_signature');
    expect(reasonOf(() => verifyGeneric({ timestamp: ts, signature: sign(ts, 'x') }, body, 'k', now))).toBe('bad_signature');
    expect(reasonOf(() => verifyGeneric({ timestamp: ts, signature: sign(ts).slice(7) }, body, 'k', now))).toBe('bad_signature');
  });
  it('names missing headers and non-numeric timestamps', () => {
    expect(reasonOf(() => verifyGeneric({ timestamp: undefined, signature: sign(ts) }, body, 'k', now))).toBe('missing_timestamp');
    expect(reasonOf(() => verifyGeneric({ timestamp: ts, signature: undefined }, body, 'k', now))).toBe('missing_signature');
    expect(reasonOf(() => verifyGeneric({ timestamp: '2026-11-21', signature: sign(ts) }, body, 'k', now))).toBe('bad_timestamp');
  });
});

describe('Alertmanager http_config credentials', () => {
  it('is open when nothing is configured', () => {
    expect(reasonOf(() => verifyAlertmanagerAuth(undefined, {}))).toBe('ok');
  });
  it('checks a bearer token', () => {
    expect(reasonOf(() => verifyAlertmanagerAuth('Bearer t0k', { token: 't0k' }))).toBe('ok');
    expect(reasonOf(() => verifyAlertmanagerAuth('Bearer nope', { token: 't0k' }))).toBe('bad_credentials');
    expect(reasonOf(() => verifyAlertmanagerAuth(undefined, { token: 't0k' }))).toBe('missing_credentials');
  });
  it('checks basic credentials', () => {
    const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
    const expected = { username: 'am', password: 'pw' };
    expect(reasonOf(() => verifyAlertmanagerAuth(basic('am', 'pw'), expected))).toBe('ok');
    expect(reasonOf(() => verifyAlertmanagerAuth(basic('am', 'no'), expected))).toBe('bad_credentials');
    expect(reasonOf(() => verifyAlertmanagerAuth('Bearer pw', expected))).toBe('bad_credentials');
  });
});
