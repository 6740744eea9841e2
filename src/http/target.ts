import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { QuenchError } from '../core/errors.js';

/**
 * The request target and the requests Node's parser refuses, both hostile input. Every
 * refusal is a 4xx in the JSON error shape; nothing here may throw past the caller's `try`.
 */

const BASE = 'http://quench.invalid';
/** A percent sign not followed by two hex digits: decodeURIComponent would throw on it. */
const BAD_PERCENT = /%(?![0-9A-Fa-f]{2})/;
/** C0 controls and DEL never belong in a path; NUL would even reach PostgreSQL, which refuses it. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

const badTarget = (message: string) => new QuenchError('bad_request', message, { details: { reason: 'bad_target' } });

/** The parts of a request target the router and handlers use. */
export interface Target {
  readonly pathname: string;
  readonly searchParams: URLSearchParams;
}

/**
 * The common target, `/path?query`, made only of characters that `new URL` leaves as they are
 * in the path (no "%", "\\", "#", no "//" authority, no dot segments): its path is final and
 * needs no decoding check, so parsing is a split. Everything else takes the full URL parser.
 */
const PLAIN_PATH = /^\/(?!\/)[A-Za-z0-9\-_~!$&'()*+,;=:@/.]*$/;
const PLAIN_QUERY = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*$/;

/**
 * Parses an origin-form (`/path?query`) or absolute-form (`http://host/path`) target, and
 * checks that the path's percent-encoding decodes to valid UTF-8 without control characters,
 * so that route parameters decode safely later.
 */
export function parseTarget(raw: string | undefined): Target {
  const text = raw ?? '/';
  const q = text.indexOf('?');
  const path = q < 0 ? text : text.slice(0, q);
  if (PLAIN_PATH.test(path) && !path.includes('/.')) {
    const query = q < 0 ? '' : text.slice(q + 1);
    if (PLAIN_QUERY.test(query)) return { pathname: path, searchParams: new URLSearchParams(query) };
  }
  if (!text.startsWith('/') && !/^https?:\/\//i.test(text)) {
    throw badTarget('malformed request target: expected a path starting with "/" (or an absolute http URL)');
  }
  let url: URL;
  try {
    url = new URL(text, BASE);
  } catch {
    throw badTarget('malformed request target: it is not a valid URL');
  }
  decodePathPart(url.pathname);
  return url;
}

/** Decodes one percent-encoded path part, or refuses it with a 400 saying what is wrong. */
export function decodePathPart(part: string): string {
  if (BAD_PERCENT.test(part)) throw badTarget('malformed percent-encoding in the path: "%" must be followed by two hex digits');
  let decoded: string;
  try {
    decoded = decodeURIComponent(part);
  } catch {
    throw badTarget('malformed percent-encoding in the path: the bytes are not valid UTF-8');
  }
  if (CONTROL.test(decoded)) throw badTarget('the path contains control characters (such as %00); remove them');
  return decoded;
}

/** Node's parser accepts a fixed set of methods; anything else is one label, so metrics stay bounded. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);
export const methodLabel = (method: string) => (KNOWN_METHODS.has(method) ? method : 'OTHER');

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  431: 'Request Header Fields Too Large',
};

/** Writes a complete JSON error response straight to a socket (no ServerResponse exists yet) and closes it. */
export function writeRaw(socket: Duplex, status: number, error: string, message: string): void {
  if (!socket.writable || ((socket as Socket).bytesWritten ?? 0) > 0) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ error, message });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * Node calls this for requests its parser refuses (malformed request line, bad header,
 * oversized headers, unknown method, a client too slow to send its request). Its default
 * answer is a bare 400 without a body; ours says what was wrong.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  const code = err.code ?? '';
  if (code === 'ECONNRESET') return void socket.destroy();
  if (code === 'HPE_HEADER_OVERFLOW') {
    return writeRaw(socket, 431, 'headers_too_large', 'request headers are too large; the limit is 16 KiB in total');
  }
  if (code === 'HPE_INVALID_METHOD') return writeRaw(socket, 405, 'method_not_allowed', 'unknown HTTP method');
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT' || code === 'HPE_HEADERS_TIMEOUT') {
    return writeRaw(socket, 408, 'request_timeout', 'the request was not received in time');
  }
  writeRaw(socket, 400, 'bad_request', `malformed HTTP request (${code.replace(/^HPE_/, '').toLowerCase() || 'parse error'})`);
}
