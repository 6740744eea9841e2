import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { NonRetriableError, StepError } from '../engine/core/step-error.js';
import { httpClientSpan } from '../telemetry/otel.js';
import { addressAllowed, portOf } from './allowlist.js';
import { classifyAddress } from './addresses.js';

/**
 * The network half of `http.request`. Names are resolved once, here, and the connection goes
 * to the address that was checked (no second lookup a rebinding DNS server could answer
 * differently); the socket's peer is checked again once connected. The answer is streamed and
 * reading stops at `maxBodyBytes`: a huge answer costs the service that many bytes, no more.
 */
export interface HttpAnswer {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
  truncated: boolean;
}

export interface HttpCall {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
  allowlist: readonly string[];
  maxBodyBytes: number;
  signal: AbortSignal;
  /** Name resolution (node:dns `lookup` with `all: true`); tests stand in a resolver that changes its answer. */
  resolve?: (hostname: string, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;
}

const systemResolve: NonNullable<HttpCall['resolve']> = (hostname, callback) => dnsLookup(hostname, { all: true }, callback);

export function callHttp(call: HttpCall): Promise<HttpAnswer> {
  const { url, allowlist } = call;
  const port = portOf(url);
  const refusal = (address: string) =>
    new NonRetriableError(
      'address_not_allowed',
      `http.request to ${url.host} refused: it resolves to ${address} (${classifyAddress(address)}); ` +
        `add that address to QUENCH_HTTP_ALLOWLIST (e.g. ${address.includes(':') ? `[${address}]` : address}:${port}) to allow it`,
    );
  const literal = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(literal) && !addressAllowed(literal, port, allowlist)) return Promise.reject(refusal(literal));

  let refused: NonRetriableError | undefined;
  const resolve = call.resolve ?? systemResolve;
  const lookup: LookupFunction = (hostname, options, callback) => {
    resolve(hostname, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const chosen = addresses.find((a) => addressAllowed(a.address, port, allowlist));
      if (!chosen) {
        refused = refusal(addresses[0]?.address ?? hostname);
        return callback(refused, '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, [chosen]);
      callback(null, chosen.address, chosen.family);
    });
  };

  // A client span when tracing is on (src/telemetry/otel.ts); its trace context goes out in the headers.
  const headers = { ...call.headers };
  return httpClientSpan({ method: call.method, url }, headers, () => exchange(call, headers, lookup, refusal, () => refused), (a) => a.status);
}

function exchange(
  call: HttpCall,
  headers: Record<string, string>,
  lookup: LookupFunction,
  refusal: (address: string) => NonRetriableError,
  refusedBy: () => NonRetriableError | undefined,
): Promise<HttpAnswer> {
  const { url, allowlist } = call;
  const port = portOf(url);
  let refused: NonRetriableError | undefined;
  return new Promise<HttpAnswer>((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    // A fresh connection per call (no agent pool): every call resolves and checks its address.
    const req = send(url, { method: call.method, headers, lookup, signal: call.signal, agent: false });
    req.on('socket', (socket) => {
      socket.once('connect', () => {
        const peer = socket.remoteAddress;
        if (!peer || !addressAllowed(peer, port, allowlist)) {
          refused = refusal(peer ?? 'an unknown address');
          req.destroy(refused);
        }
      });
    });
    req.on('error', (err) => reject(refused ?? refusedBy() ?? err));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      const finish = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), truncated });
      res.on('data', (chunk: Buffer) => {
        if (truncated) return;
        const room = call.maxBodyBytes - size;
        if (chunk.length > room) {
          chunks.push(chunk.subarray(0, room));
          size += room;
          truncated = true;
          // Stop reading: the rest of the answer is never buffered.
          res.destroy();
          req.destroy();
          finish();
          return;
        }
        chunks.push(chunk);
        size += chunk.length;
      });
      res.on('end', finish);
      res.on('error', (err) => (truncated ? undefined : reject(err)));
      res.on('close', () => {
        if (!truncated && !res.complete) reject(new StepError('network', `the answer from ${url.host} was cut short`, { retryable: true }));
      });
    });
    req.end(call.body);
  });
}
