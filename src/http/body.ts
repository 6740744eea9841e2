import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { QuenchError } from '../core/errors.js';

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
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      req.resume();
      throw new QuenchError('payload_too_large', `request body exceeds the limit of ${maxBytes} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

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
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  if (text.trim() === '') throw new QuenchError('bad_request', 'request body is empty; expected JSON');
  const depth = jsonDepth(text);
  if (depth > maxDepth) {
    throw new QuenchError('bad_request', `JSON nested ${depth} levels deep; the limit is ${maxDepth}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new QuenchError('bad_request', `malformed JSON: ${(err as Error).message}`);
  }
}

/** Validates parsed input; the message names each failing field path. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what = 'request body'): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.slice(0, 20).map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
  throw new QuenchError('validation_failed', `invalid ${what}: ${problems.join('; ')}`, {
    details: { issues: result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
  });
}

export async function readJson<S extends z.ZodType>(req: IncomingMessage, schema: S, maxBytes = 1024 * 1024): Promise<z.infer<S>> {
  return parseWith(schema, parseJson(await readRawBody(req, maxBytes)));
}
