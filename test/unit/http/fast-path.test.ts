import { request } from 'node:http';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenAuthenticator } from '../../../src/http/auth.js';
import { Router } from '../../../src/http/router.js';
import { createHttpServer, type HttpServer } from '../../../src/http/server.js';
import { decodePathPart, parseTarget } from '../../../src/http/target.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';

/** The full parse every target took before the split fast path: the fast path must agree with it. */
function referenceParse(text: string): { pathname: string; query: string[][] } | 'refused' {
  if (!text.startsWith('/') && !/^https?:\/\//i.test(text)) return 'refused';
  try {
    const url = new URL(text, 'http://quench.invalid');
    decodePathPart(url.pathname);
    return { pathname: url.pathname, query: [...url.searchParams] };
  } catch {
    return 'refused';
  }
}

function fastParse(text: string): { pathname: string; query: string[][] } | 'refused' {
  try {
    const t = parseTarget(text);
    return { pathname: t.pathname, query: [...t.searchParams] };
  } catch {
    return 'refused';
  }
}

describe('parseTarget agrees with the URL parser', () => {
  it.each([
    '/v1/deploy-gate?service=checkout&risk=high&change=abc',
    '/v1/runs/',
    '/v1/./runs',
    '/v1/../metrics',
    '/a/.',
    '/a/..',
    '//evil.example/v1/runs',
    '/v1/runs/%41%2e',
    '/v1/runs/%zz',
    '/v1/runs/%00',
    '/v1/runs#frag',
    '/v1/runs?x=1#frag',
    "/v1/x?q='a b'",
    '/v1/x?q=a+b&r=%20c&s=%zz',
    '/v1/a\\b',
    '/v1/a:b@c!$&(*)+,;=~_-',
    'http://other.example/v1/runs?x=1',
    '*',
    '/v1/ünïcode',
  ])('%s', (target) => expect(fastParse(target)).toEqual(referenceParse(target)));

  it('on random targets made of the characters that matter', () => {
    const alphabet = ['/', '/', 'a', 'b', '.', '%', '2', 'e', 'f', '0', '?', '&', '=', '+', '#', '\\', "'", ' ', ':', '@', '~', '%2e', '%00', '..'];
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let i = 0; i < 5000; i++) {
      let target = '/';
      const length = next() % 12;
      for (let j = 0; j < length; j++) target += alphabet[next() % alphabet.length];
      expect(fastParse(target), target).toEqual(referenceParse(target));
    }
  });
});

describe('router exact index answers what the ordered scan would', () => {
  const router = new Router();
  const handler = () => ({ status: 200 });
  router.add({ method: 'GET', pattern: '/v1/things/:id', auth: 'public', handler });
  router.add({ method: 'GET', pattern: '/v1/things/special', auth: 'public', handler });
  router.add({ method: 'POST', pattern: '/v1/things/special', auth: 'public', handler });
  router.add({ method: 'GET', pattern: '/v1/deploy-gate', auth: 'public', handler });
  router.add({ method: 'DELETE', pattern: '/v1/freezes/:id', auth: 'public', handler });
  router.add({ method: 'POST', pattern: '/v1/freezes', auth: 'public', handler });

  const patternOf = (method: string, path: string) => {
    const m = router.match(method, path);
    return m && 'route' in m ? `${m.route.pattern} ${JSON.stringify(m.params)}` : m;
  };

  it('an earlier parameter route keeps precedence over a later static one', () => {
    expect(patternOf('GET', '/v1/things/special')).toBe('/v1/things/:id {"id":"special"}');
    expect(patternOf('POST', '/v1/things/special')).toBe('/v1/things/special {}');
  });
  it('HEAD takes the GET route; a trailing slash matches; other methods are 405 with Allow', () => {
    expect(patternOf('HEAD', '/v1/deploy-gate')).toBe('/v1/deploy-gate {}');
    expect(patternOf('GET', '/v1/deploy-gate/')).toBe('/v1/deploy-gate {}');
    expect(patternOf('PUT', '/v1/deploy-gate')).toEqual({ methodNotAllowed: ['GET'] });
    expect(patternOf('GET', '/v1/freezes')).toEqual({ methodNotAllowed: ['POST'] });
    expect(patternOf('GET', '/v1/deploy-gate//')).toBeUndefined();
  });
  it('parameters still decode and refuse bad encodings', () => {
    expect(patternOf('DELETE', '/v1/freezes/a%20b')).toBe('/v1/freezes/:id {"id":"a b"}');
    expect(() => router.match('DELETE', '/v1/freezes/%ff')).toThrow(/UTF-8/);
  });
});

describe('the per-request path', () => {
  let http: HttpServer;
  let port: number;
  const lines: Array<Record<string, unknown>> = [];
  const metrics = createMetrics();

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const logger = pino({ level: 'info' }, sink);
    const router = new Router();
    router.add({ method: 'GET', pattern: '/quiet', auth: 'public', handler: () => ({ status: 200, body: { ok: true, text: 'é' } }) });
    router.add({
      method: 'GET',
      pattern: '/chatty/:id',
      auth: 'public',
      handler: (ctx) => {
        ctx.log.info({ id: ctx.params.id }, 'handler says');
        return { status: 201, text: 'made' };
      },
    });
    router.add({ method: 'GET', pattern: '/typed', auth: 'public', handler: () => ({ status: 200, text: '# hi', headers: { 'content-type': 'text/markdown; charset=utf-8' } }) });
    router.add({ method: 'GET', pattern: '/typed-json', auth: 'public', handler: () => ({ status: 200, body: { ok: true }, headers: { 'content-type': 'text/plain' } }) });
    http = createHttpServer({ router, auth: new TokenAuthenticator(new Map()), logger, metrics });
    port = await http.listen(0, '127.0.0.1');
  });
  afterAll(() => http.close());

  const get = (path: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; raw: string[]; body: string }>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, raw: res.rawHeaders, body }));
      })
        .on('error', reject)
        .end();
    });

  it('answers with a Content-Length (one write, no chunked encoding) and a request id', async () => {
    const res = await get('/quiet');
    expect(res.headers['transfer-encoding']).toBeUndefined();
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength(res.body)));
    expect(JSON.parse(res.body)).toEqual({ ok: true, text: 'é' });
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const text = await get('/chatty/1');
    expect(text.headers['content-length']).toBe('4');
  });

  it("sends one Content-Type: a handler's own (any case) for text, always JSON's for a body", async () => {
    const typed = await get('/typed');
    expect(typed.raw.filter((h, i) => i % 2 === 0 && h.toLowerCase() === 'content-type')).toHaveLength(1);
    expect(typed.headers['content-type']).toBe('text/markdown; charset=utf-8');
    const json = await get('/typed-json');
    expect(json.raw.filter((h, i) => i % 2 === 0 && h.toLowerCase() === 'content-type')).toHaveLength(1);
    expect(json.headers['content-type']).toBe('application/json; charset=utf-8');
  });

  it('keeps the request id in every log line of the request, handler lines included', async () => {
    lines.length = 0;
    const res = await get('/chatty/42', { 'X-Request-Id': 'req-abc.1' });
    expect(res.headers['x-request-id']).toBe('req-abc.1');
    await new Promise((r) => setTimeout(r, 50));
    const handlerLine = lines.find((l) => l.msg === 'handler says');
    const requestLine = lines.find((l) => l.msg === 'request' && l.path === '/chatty/42');
    expect(handlerLine).toMatchObject({ requestId: 'req-abc.1', id: '42' });
    expect(requestLine).toMatchObject({ requestId: 'req-abc.1', route: '/chatty/:id', status: 201 });
  });

  it('counts every request by method, route pattern and status', async () => {
    await get('/quiet');
    await get('/quiet');
    await get('/nowhere');
    const text = await metrics.registry.metrics();
    const count = (labels: string) => Number(text.match(new RegExp(`quench_http_request_duration_seconds_count\\{${labels}\\} (\\d+)`))?.[1]);
    expect(count('method="GET",route="/quiet",status="200"')).toBeGreaterThanOrEqual(3);
    expect(count('method="GET",route="unmatched",status="404"')).toBeGreaterThanOrEqual(1);
  });
});
