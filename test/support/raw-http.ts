import { connect } from 'node:net';

/**
 * Sends raw bytes over a TCP socket and returns what came back: fetch() normalises request
 * lines and headers, so malformed requests can only be tested this way. Resolves when the
 * server closes the connection or the first complete response has arrived.
 */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  raw: string;
}

export function sendRaw(
  port: number,
  bytes: Buffer | string,
  options: { timeoutMs?: number; localAddress?: string; /** Half-close after writing (a truncated body). */ halfClose?: boolean } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = () => {
      if (settled) return;
      const raw = Buffer.concat(chunks).toString('latin1');
      const parsed = parseResponse(raw);
      if (!parsed) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(parsed);
    };
    const timer = setTimeout(() => {
      settled = true;
      socket.destroy();
      reject(new Error(`no complete response within ${options.timeoutMs ?? 10_000} ms; got: ${Buffer.concat(chunks).toString('latin1').slice(0, 300)}`));
    }, options.timeoutMs ?? 10_000);
    socket.on('data', (d) => {
      chunks.push(d);
      finish();
    });
    socket.on('error', (err) => {
      // A reset after a complete answer is fine; before one, it is the failure under test.
      if (!settled && !parseResponse(Buffer.concat(chunks).toString('latin1'))) {
        settled = true;
        clearTimeout(timer);
        reject(err);
      }
    });
    socket.on('close', () => {
      finish();
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        reject(new Error(`connection closed without a complete response; got: ${Buffer.concat(chunks).toString('latin1').slice(0, 300)}`));
      }
    });
    socket.on('connect', () => {
      if (options.halfClose) socket.end(bytes);
      else socket.write(bytes);
    });
  });
}

function parseResponse(raw: string): RawResponse | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = raw.slice(0, end).split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]);
  if (!Number.isFinite(status)) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = raw.slice(end + 4);
  const length = headers['content-length'];
  if (length !== undefined) {
    if (Buffer.byteLength(body, 'latin1') < Number(length)) return undefined;
    body = body.slice(0, Number(length));
  } else if (headers['transfer-encoding'] === 'chunked') {
    if (!body.endsWith('0\r\n\r\n')) return undefined;
    body = dechunk(body);
  }
  return { status, headers, body: Buffer.from(body, 'latin1').toString('utf8'), raw };
}

function dechunk(text: string): string {
  let out = '';
  let i = 0;
  for (;;) {
    const eol = text.indexOf('\r\n', i);
    const size = parseInt(text.slice(i, eol), 16);
    if (!size) return out;
    out += text.slice(eol + 2, eol + 2 + size);
    i = eol + 2 + size + 2;
  }
}
