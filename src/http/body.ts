import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { QuenchError } from '../core/errors.js';
import { shownPath } from '../core/proto-key.js';

/**
 * Reads the raw body with a size cap. Signature checks need the exact bytes, so every
 * webhook reads the raw body first and parses afterwards.
 */
export async function readRawBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    throw new QuenchError('payload_too_large', `request body is ${declared} bytes; the limit is ${maxBytes}`);
  }
  // Stream events, not `for await`: the async iterator cost about 2% of a webhook's CPU (its
  // promises and generator resumptions), and a small body comes in one chunk anyway.
  let size = 0;
  const raw = await new Promise<Buffer>((resolve, reject) => {
    // A small body comes in one chunk, a buffer of its own (Node's parser copies each chunk out
    // of the socket's): kept as it is; a list, and a copy into one buffer, only from a second chunk.
    let first: Buffer | undefined;
    let chunks: Buffer[] | undefined;
    const done = (err?: QuenchError) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onEnd);
      req.off('close', onClose);
      if (err) reject(err);
      else resolve(chunks ? Buffer.concat(chunks, size) : (first ?? Buffer.alloc(0)));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.resume();
        done(new QuenchError('payload_too_large', `request body exceeds the limit of ${maxBytes} bytes`));
        return;
      }
      if (first === undefined) first = chunk;
      else (chunks ??= [first]).push(chunk);
    };
    const truncated = () =>
      new QuenchError('bad_request', `request body ended early after ${size} bytes; send the whole body`, { details: { reason: 'truncated' } });
    // The client stopped sending mid-body (aborted, or a chunked body cut short).
    const onEnd = (err?: unknown) => done(err === undefined ? undefined : truncated());
    const onClose = () => done(req.complete ? undefined : truncated());
    if (req.complete && req.readableEnded) return resolve(Buffer.alloc(0));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onEnd);
    req.on('close', onClose);
  });
  // Node ends the stream without error when a half-closed socket delivered fewer bytes than declared.
  if (Number.isFinite(declared) && size < declared) {
    throw new QuenchError('bad_request', `request body ended early: ${size} of ${declared} declared bytes arrived`, {
      details: { reason: 'truncated' },
    });
  }
  return raw;
}

/** `application/json` or a `+json` type; a request that names another type is refused (an absent one is taken as JSON). */
export function requireJsonContentType(req: IncomingMessage): void {
  const type = req.headers['content-type'];
  if (type === undefined) return;
  const [mediaPart = '', ...params] = type.split(';');
  const media = mediaPart.trim().toLowerCase();
  if (media === 'application/json' || /^application\/[\w.-]+\+json$/.test(media)) {
    // JSON is UTF-8 (RFC 8259 §8.1) and the body is decoded as such: another declared charset
    // would be read as something its sender did not mean.
    const charset = params.map((p) => /^\s*charset\s*=\s*"?([^";\s]*)"?\s*$/i.exec(p)?.[1]?.toLowerCase()).find((c) => c !== undefined);
    if (charset === undefined || charset === 'utf-8' || charset === 'utf8' || charset === 'us-ascii') return;
    throw new QuenchError('unsupported_media_type', `charset ${charset.slice(0, 40)} is not accepted: JSON bodies are UTF-8; send charset=utf-8 or none`, {
      details: { reason: 'content_type' },
    });
  }
  throw new QuenchError('unsupported_media_type', `Content-Type ${media.slice(0, 100) || '(empty)'} is not accepted; send application/json`, {
    details: { reason: 'content_type' },
  });
}

/**
 * Bodies are read as sent: a compressed one (`Content-Encoding: gzip`) is refused with 415
 * (RFC 9110 §15.5.16) naming the fix, instead of failing later as 'not valid UTF-8'. Not
 * inflated: signatures cover the bytes as sent, and inflating would let a small body outgrow
 * the size limit only after it was read.
 */
export function requireIdentityEncoding(req: IncomingMessage): void {
  const encoding = req.headers['content-encoding'];
  if (encoding === undefined) return;
  const codings = encoding
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  if (codings.length === 0) return;
  throw new QuenchError(
    'unsupported_media_type',
    `Content-Encoding ${codings.join(', ').slice(0, 60)} is not accepted: send the body uncompressed (no Content-Encoding, or identity)`,
    { details: { reason: 'content_encoding' } },
  );
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A body's text, byte for byte: strict (invalid UTF-8 is refused, never replaced), and a
 * leading byte order mark kept (TextDecoder drops it by default). Webhook bodies are stored
 * as this text, and a stored body must be the bytes that were signed: without its BOM, a
 * signature over the stored body no longer verified (an audit or a replay of the delivery).
 * Parse it with withoutBom.
 */
export const exactUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The JSON text of a body: RFC 8259 §8.1 lets a parser ignore a leading byte order mark, which JSON.parse refuses. */
export const withoutBom = (text: string): string => (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);

/** Deepest nesting allowed in a JSON body; real payloads stay far below it. */
export const MAX_JSON_DEPTH = 64;

/**
 * Scans bracket depth before parsing so that a hostile, deeply nested body is refused
 * cheaply and never reaches a recursive walker.
 */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      depth++;
      if (depth > max) max = depth;
    } else if (c === 125 || c === 93) depth--;
  }
  return max;
}

export function parseJson(raw: Buffer | string, maxDepth = MAX_JSON_DEPTH): unknown {
  let text: string;
  try {
    // Strict: invalid bytes are refused, never silently replaced and stored.
    text = typeof raw === 'string' ? raw : strictUtf8.decode(raw);
  } catch {
    throw new QuenchError('bad_request', 'request body is not valid UTF-8', { details: { reason: 'bad_encoding' } });
  }
  const depth = jsonDepth(text);
  if (depth > maxDepth) {
    throw new QuenchError('bad_request', `JSON nested ${depth} levels deep; the limit is ${maxDepth}`);
  }
  return parseJsonText(text);
}

/**
 * JSON.parse of a text already decoded and depth-checked (parseJson does both; the webhook
 * routes do them themselves, to count each refusal by its reason), refusing strings the
 * database cannot store.
 */
export function parseJsonText(text: string): unknown {
  try {
    // Without a \u escape every string JSON.parse returns is made of the text's own characters,
    // so one scan of the text stands in for the reviver (a reviver makes JSON.parse about 3×
    // slower: ~4 µs of a 400-byte webhook).
    return text.includes('\\u') || UNSTORABLE.test(text) ? JSON.parse(text, refuseUnstorable) : JSON.parse(text);
  } catch (err) {
    if (err instanceof QuenchError) throw err;
    // Checked only on failure: a body of nothing but whitespace never parses.
    if (text.trim() === '') throw new QuenchError('bad_request', 'request body is empty; expected JSON');
    throw new QuenchError('bad_request', `malformed JSON: ${(err as Error).message}`);
  }
}

/** `\u0000` or a lone surrogate (`\ud800`): valid JSON that PostgreSQL's jsonb and text refuse. */
const UNSTORABLE = /\0|\p{Cs}/u;

/**
 * A JSON.parse reviver that refuses strings (keys and values) the database cannot hold, so
 * they are a 400 at the door: never a 500 when a handler stores them, nor a webhook answered
 * 202 that the inbox worker then fails on until it is dead-lettered.
 */
function refuseUnstorable(key: string, value: unknown): unknown {
  if (UNSTORABLE.test(key) || (typeof value === 'string' && UNSTORABLE.test(value))) {
    throw new QuenchError(
      'bad_request',
      'a JSON string holds \\u0000 or an unpaired surrogate (such as \\ud800), which cannot be stored; remove it or send valid UTF-16 pairs',
      { details: { reason: 'unstorable_string' } },
    );
  }
  return value;
}

/** Validates parsed input; the message names each failing field path. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what = 'request body', code: 'validation_failed' | 'bad_request' = 'validation_failed'): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.slice(0, 20).map((i) => `${i.path.length ? shownPath(i.path) : '(root)'}: ${i.message}`);
  throw new QuenchError(code, `invalid ${what}: ${problems.join('; ')}`, {
    details: { issues: result.error.issues.map((i) => ({ path: shownPath(i.path), message: i.message })) },
  });
}

export async function readJson<S extends z.ZodType>(req: IncomingMessage, schema: S, maxBytes = 1024 * 1024): Promise<z.infer<S>> {
  requireJsonContentType(req);
  requireIdentityEncoding(req);
  return parseWith(schema, parseJson(await readRawBody(req, maxBytes)));
}
