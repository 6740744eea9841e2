import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { QuenchError } from '../core/errors.js';

/**
 * Webhook authentication. Every comparison is constant-time over equal-length digests, and
 * every candidate is checked (no early exit), so timing reveals neither which secret nor how
 * much of a signature was right. Messages never include a secret or a signature.
 */

const hmacHex = (secret: string, data: Buffer | string) => createHmac('sha256', secret).update(data).digest();

/** Constant-time equality of a presented hex string with an expected digest; malformed hex is simply unequal. */
function hexEquals(presentedHex: string, expected: Buffer): boolean {
  if (!/^[0-9a-fA-F]+$/.test(presentedHex) || presentedHex.length !== expected.length * 2) return false;
  return timingSafeEqual(Buffer.from(presentedHex, 'hex'), expected);
}

const unauthorized = (message: string, reason: string) => new QuenchError('unauthorized', message, { details: { reason } });

/**
 * PagerDuty V3: `X-PagerDuty-Signature: v1=<hex>[,v1=<hex>…]`, HMAC-SHA256 of the raw body.
 * During a secret rotation PagerDuty signs with both secrets; we accept a match of any
 * presented signature against any configured secret (ours may hold old and new too).
 */
export function verifyPagerDuty(header: string | undefined, body: Buffer, secrets: readonly string[]): void {
  if (!header) throw unauthorized('missing X-PagerDuty-Signature header', 'missing_signature');
  const presented = header
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('v1='))
    .map((s) => s.slice(3));
  if (presented.length === 0) throw unauthorized('X-PagerDuty-Signature has no v1= signature', 'bad_signature');
  let ok = false;
  for (const secret of secrets) {
    const expected = hmacHex(secret, body);
    for (const sig of presented) if (hexEquals(sig, expected)) ok = true;
  }
  if (!ok) throw unauthorized('X-PagerDuty-Signature does not match the body; check PAGERDUTY_WEBHOOK_SECRET', 'bad_signature');
}

/** Generic webhooks: timestamps further than this from now, either way, are refused as replays. */
export const GENERIC_TOLERANCE_SECONDS = 300;

/**
 * `X-Quench-Timestamp: <unix s>`, `X-Quench-Signature: sha256=<hex HMAC(secret, "<ts>.<body>")>`.
 * The timestamp is inside the MAC, so it cannot be moved; the window bounds replays, and the
 * event `id` deduplicates within it.
 */
export function verifyGeneric(
  headers: { timestamp: string | undefined; signature: string | undefined },
  body: Buffer,
  secret: string,
  nowMs: number,
): void {
  if (!headers.timestamp) throw unauthorized('missing X-Quench-Timestamp header', 'missing_timestamp');
  if (!headers.signature) throw unauthorized('missing X-Quench-Signature header', 'missing_signature');
  if (!/^\d{1,12}$/.test(headers.timestamp)) throw unauthorized('X-Quench-Timestamp must be unix seconds', 'bad_timestamp');
  const skew = Math.abs(nowMs / 1000 - Number(headers.timestamp));
  if (skew > GENERIC_TOLERANCE_SECONDS) {
    throw unauthorized(
      `X-Quench-Timestamp is ${Math.round(skew)} s away from the server clock; the limit is ${GENERIC_TOLERANCE_SECONDS} s (replay or clock skew)`,
      'stale_timestamp',
    );
  }
  const match = /^sha256=(.+)$/.exec(headers.signature.trim());
  // The MAC of `<ts>.<body>` fed in two parts: the same digest, without a copy of the body.
  const expected = createHmac('sha256', secret).update(`${headers.timestamp}.`).update(body).digest();
  if (!match || !hexEquals(match[1]!, expected)) {
    throw unauthorized(
      'X-Quench-Signature does not match; expected sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>',
      'bad_signature',
    );
  }
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * Alertmanager's `http_config`: `authorization` (Bearer) or `basic_auth`. When neither is
 * configured the endpoint is open, as Alertmanager's default receiver config is.
 */
export function verifyAlertmanagerAuth(
  header: string | undefined,
  expected: { token?: string | undefined; username?: string | undefined; password?: string | undefined },
): void {
  const wantsBearer = expected.token !== undefined;
  const wantsBasic = expected.username !== undefined && expected.password !== undefined;
  if (!wantsBearer && !wantsBasic) return;
  if (!header) throw unauthorized('missing Authorization header (configure http_config in Alertmanager)', 'missing_credentials');
  let ok = false;
  const bearer = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
  if (wantsBearer && bearer !== undefined) ok = timingSafeEqual(digest(bearer), digest(expected.token!));
  const basic = /^Basic\s+(.+)$/i.exec(header)?.[1]?.trim();
  if (wantsBasic && basic !== undefined) {
    const presented = Buffer.from(basic, 'base64').toString('utf8');
    ok = timingSafeEqual(digest(presented), digest(`${expected.username}:${expected.password}`)) || ok;
  }
  if (!ok)
    throw unauthorized('Authorization header does not match QUENCH_ALERTMANAGER_TOKEN / QUENCH_ALERTMANAGER_USERNAME', 'bad_credentials');
}

/** A delivery key for payloads without an id of their own (Alertmanager): identical bodies are one delivery. */
export const bodyDigest = (body: Buffer | string) => createHash('sha256').update(body).digest('hex');
