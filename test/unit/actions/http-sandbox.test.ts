import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ActionContext } from '../../../src/actions/action.js';
import { classifyAddress } from '../../../src/actions/addresses.js';
import { addressAllowed, hostAllowed } from '../../../src/actions/allowlist.js';
import { callHttp } from '../../../src/actions/http-call.js';
import { httpRequestAction } from '../../../src/actions/http-request.js';
import { loadConfig } from '../../../src/config/load.js';
import { ManualClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/telemetry/logger.js';

/**
 * Issue 9 §3: http.request buffered whole answers (300 MiB cost 330 MiB of RSS) and checked
 * host names only, so an allowlisted name could lead to loopback, the metadata service or the
 * private network; `[::1]:port` entries never matched and a bare host allowed every port.
 */
function ctx(allowlist: string): ActionContext {
  return {
    runId: 'run-1',
    stepKey: 'call',
    attempt: 1,
    idempotencyKey: 'run-1:call:1',
    correlationId: 'corr-1',
    signal: new AbortController().signal,
    clock: new ManualClock(),
    logger: silentLogger,
    config: loadConfig({ QUENCH_HTTP_ALLOWLIST: allowlist }),
    ports: {},
    drill: false,
  };
}

async function call(url: string, allowlist: string): Promise<{ ok: unknown } | { error: string; message: string }> {
  try {
    return { ok: await httpRequestAction.run(httpRequestAction.params.parse({ url, method: 'GET' }), ctx(allowlist)) };
  } catch (err) {
    const e = err as { code: string; message: string };
    return { error: e.code, message: e.message };
  }
}

const servers: Server[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

async function listen(host: string): Promise<{ port: number; hits: () => number }> {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  servers.push(server);
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, resolve));
  return { port: (server.address() as AddressInfo).port, hits: () => hits };
}

describe('address classes', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.8.9.10', 'loopback'],
    ['::1', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'shared'],
    ['100.127.255.255', 'shared'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:10.0.0.1', 'private'],
    ['64:ff9b::a9fe:a9fe', 'link-local'],
    ['2002:a00:1::', 'private'],
    ['224.0.0.1', 'multicast'],
    ['8.8.8.8', 'public'],
    ['172.32.0.1', 'public'],
    ['100.128.0.1', 'public'],
    ['2606:4700::1111', 'public'],
  ])('%s is %s', (address, expected) => {
    expect(classifyAddress(address)).toBe(expected);
  });
});

describe('host allowlist', () => {
  it('a bare host means its default ports only; host:* any port; [::1]:port entries match', () => {
    expect(hostAllowed(new URL('https://api.example.com/'), ['api.example.com'])).toBe(true);
    expect(hostAllowed(new URL('http://api.example.com/'), ['api.example.com'])).toBe(true);
    expect(hostAllowed(new URL('http://api.example.com:8080/'), ['api.example.com'])).toBe(false);
    expect(hostAllowed(new URL('http://api.example.com:8080/'), ['api.example.com:*'])).toBe(true);
    expect(hostAllowed(new URL('http://x.internal:9000/'), ['*.internal'])).toBe(false);
    expect(hostAllowed(new URL('http://x.internal:9000/'), ['*.internal:9000'])).toBe(true);
    expect(hostAllowed(new URL('http://[::1]:8080/'), ['[::1]:8080'])).toBe(true);
    expect(hostAllowed(new URL('http://[::1]:8081/'), ['[::1]:8080'])).toBe(false);
    expect(hostAllowed(new URL('http://[0:0::1]:8080/'), ['[::1]:*'])).toBe(true);
  });

  it('non-public addresses pass only when an entry names the address itself', () => {
    expect(addressAllowed('93.184.216.34', 443, ['example.com'])).toBe(true);
    expect(addressAllowed('127.0.0.1', 8080, ['localhost:8080'])).toBe(false);
    expect(addressAllowed('127.0.0.1', 8080, ['127.0.0.1:8080'])).toBe(true);
    expect(addressAllowed('127.0.0.1', 8081, ['127.0.0.1:8080'])).toBe(false);
    expect(addressAllowed('::ffff:127.0.0.1', 8080, ['127.0.0.1:*'])).toBe(true);
    expect(addressAllowed('169.254.169.254', 80, ['metadata.example.com'])).toBe(false);
    expect(addressAllowed('::1', 3000, ['[::1]:3000'])).toBe(true);
  });
});

describe('http.request against loopback', () => {
  it('refuses a name that resolves to loopback unless the address is allowlisted', async () => {
    const target = await listen('127.0.0.1');
    const refused = await call(`http://localhost:${target.port}/x`, `localhost:${target.port}`);
    expect(refused).toMatchObject({ error: 'address_not_allowed', message: expect.stringMatching(/127\.0\.0\.1/) });
    expect(target.hits()).toBe(0);
    const allowed = await call(`http://localhost:${target.port}/x`, `localhost:${target.port},127.0.0.1:${target.port}`);
    expect(allowed).toEqual({ ok: { status: 200, body: { ok: true }, truncated: false } });
    expect(target.hits()).toBe(1);
  });

  it('resolves once per call and connects to the address it checked; a rebinding answer is refused', async () => {
    const target = await listen('127.0.0.1');
    const answers = ['127.0.0.1', '169.254.169.254'];
    let lookups = 0;
    const call = () =>
      callHttp({
        url: new URL(`http://rebind.test:${target.port}/x`),
        method: 'GET',
        headers: {},
        body: undefined,
        allowlist: [`rebind.test:${target.port}`, `127.0.0.1:${target.port}`],
        maxBodyBytes: 1024,
        signal: new AbortController().signal,
        resolve: (_host, callback) => callback(null, [{ address: answers[Math.min(lookups++, 1)]!, family: 4 }]),
      });
    expect(await call()).toMatchObject({ status: 200, truncated: false });
    expect(lookups).toBe(1);
    expect(target.hits()).toBe(1);
    // The name now answers the metadata service's address: refused before any connection.
    await expect(call()).rejects.toMatchObject({ code: 'address_not_allowed', message: expect.stringMatching(/169\.254\.169\.254 \(link-local\)/) });
    expect(lookups).toBe(2);
    expect(target.hits()).toBe(1);
  });

  it('a bare IP entry means ports 80/443 only', async () => {
    const target = await listen('127.0.0.1');
    expect(await call(`http://127.0.0.1:${target.port}/x`, '127.0.0.1')).toMatchObject({ error: 'host_not_allowed' });
    expect(await call(`http://127.0.0.1:${target.port}/x`, '127.0.0.1:*')).toMatchObject({ ok: { status: 200 } });
    expect(target.hits()).toBe(1);
  });

  it('an [::1]:port entry reaches a server on ::1', async () => {
    let target: { port: number; hits: () => number };
    try {
      target = await listen('::1');
    } catch {
      return; // no IPv6 loopback on this machine
    }
    expect(await call(`http://[::1]:${target.port}/x`, `[::1]:${target.port}`)).toMatchObject({ ok: { status: 200 } });
    expect(await call(`http://[::1]:${target.port}/x`, `[::2]:${target.port}`)).toMatchObject({ error: 'host_not_allowed' });
  });

  it('reads a 300 MiB answer only up to its cap', async () => {
    // The server runs in a child process, so its buffers do not count in this process's RSS;
    // it reports how many bytes it managed to hand to the socket before the client hung up.
    const script = `
      const http = require('node:http');
      const chunk = Buffer.alloc(1024 * 1024, 97);
      const total = 300;
      http.createServer((req, res) => {
        let sent = 0;
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(total * chunk.length) });
        const pump = () => {
          while (sent < total) {
            sent++;
            if (!res.write(chunk)) return res.once('drain', pump);
          }
          res.end();
        };
        res.on('close', () => process.stdout.write('sent ' + sent + '\\n'));
        pump();
      }).listen(0, '127.0.0.1', function () { process.stdout.write('port ' + this.address().port + '\\n'); });`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    const lines: string[] = [];
    const next = (prefix: string) =>
      new Promise<string>((resolve) => {
        const scan = () => {
          const line = lines.find((l) => l.startsWith(prefix));
          if (line) return resolve(line.slice(prefix.length));
          child.stdout!.once('data', scan);
        };
        scan();
      });
    let buffered = '';
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      lines.push(...parts);
    });
    const port = Number(await next('port '));
    globalThis.gc?.();
    const before = process.memoryUsage().rss;
    const result = await call(`http://127.0.0.1:${port}/big`, `127.0.0.1:${port}`);
    const grown = process.memoryUsage().rss - before;
    const sentMiB = Number(await next('sent '));
    expect(result).toMatchObject({ ok: { status: 200, truncated: true } });
    expect(((result as { ok: { body: string } }).ok.body as string).length).toBe(64 * 1024);
    // The client stopped reading: only what fits in socket buffers left the server.
    expect(sentMiB).toBeLessThan(64);
    expect(grown).toBeLessThan(64 * 1024 * 1024);
    console.info(`300 MiB answer: server sent ${sentMiB} MiB before the client hung up; RSS grew ${(grown / 1048576).toFixed(1)} MiB`);
  });
});
