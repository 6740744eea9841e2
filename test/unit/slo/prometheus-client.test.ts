import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isQuenchError } from '../../../src/core/errors.js';
import { PrometheusClient, parseSampleValue } from '../../../src/slo/sources/prometheus-client.js';

/** A stand-in speaking Prometheus' wire format, for the failures a real one will not produce on demand. */
type Answer = { status: number; body: unknown } | 'hang';
let server: Server | undefined;
const requests: Array<{ method: string; url: string; contentType: string; form: URLSearchParams }> = [];

async function fakePrometheus(answers: Answer[]): Promise<string> {
  requests.length = 0;
  server = createServer(async (req: IncomingMessage, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    requests.push({
      method: req.method!,
      url: req.url!,
      contentType: String(req.headers['content-type']),
      form: new URLSearchParams(body),
    });
    const answer = answers.shift() ?? { status: 500, body: 'no more answers' };
    if (answer === 'hang') return;
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

const vector = (...samples: Array<[Record<string, string>, string]>) => ({
  status: 200,
  body: { status: 'success', data: { resultType: 'vector', result: samples.map(([metric, v]) => ({ metric, value: [1767225600, v] })) } },
});
const noSleep = { sleep: async () => {} };

describe('Prometheus client', () => {
  it('POSTs the query as a form with time and timeout, and parses NaN and ±Inf', async () => {
    const url = await fakePrometheus([
      vector([{ quench: '5m:errors' }, '1.5'], [{ quench: '5m:total' }, 'NaN'], [{ a: 'b' }, '+Inf'], [{}, '-Inf']),
    ]);
    const samples = await new PrometheusClient({ baseUrl: `${url}/`, timeoutMs: 4000 }).query('up', new Date('2026-01-01T00:00:00.250Z'));
    expect(requests[0]).toMatchObject({ method: 'POST', url: '/api/v1/query', contentType: 'application/x-www-form-urlencoded' });
    expect(Object.fromEntries(requests[0]!.form)).toEqual({ query: 'up', time: '1767225600.250', timeout: '4s' });
    expect(samples.map((s) => s.value)).toEqual([1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    expect(samples[0]!.labels).toEqual({ quench: '5m:errors' });
  });

  it('returns an empty list for empty results and reads scalars', async () => {
    const url = await fakePrometheus([
      vector(),
      { status: 200, body: { status: 'success', data: { resultType: 'scalar', result: [1, '0.25'] } } },
    ]);
    const client = new PrometheusClient({ baseUrl: url });
    expect(await client.query('absent_metric')).toEqual([]);
    expect(await client.query('scalar(1)')).toEqual([{ labels: {}, value: 0.25 }]);
  });

  it('retries 503 with exponential back-off, then succeeds', async () => {
    const url = await fakePrometheus([
      { status: 503, body: { status: 'error', errorType: 'unavailable', error: 'too many queries' } },
      { status: 503, body: 'Service Unavailable' },
      vector([{}, '1']),
    ]);
    const sleeps: number[] = [];
    const client = new PrometheusClient({ baseUrl: url, backoffMs: 100, sleep: async (ms) => void sleeps.push(ms) });
    expect(await client.query('up')).toEqual([{ labels: {}, value: 1 }]);
    expect(sleeps).toEqual([100, 200]);
    expect(requests).toHaveLength(3);
  });

  it('gives up after the retries with an actionable error', async () => {
    const unavailable = { status: 503, body: 'down' };
    const url = await fakePrometheus([unavailable, unavailable, unavailable]);
    const err = await new PrometheusClient({ baseUrl: url, retries: 2, ...noSleep }).query('up').catch((e) => e);
    expect(isQuenchError(err, 'prometheus_unavailable')).toBe(true);
    expect(err.message).toContain('after 3 attempts');
    expect(err.message).toContain('PROMETHEUS_URL');
  });

  it('never retries a bad query, and says what Prometheus said', async () => {
    const url = await fakePrometheus([{ status: 400, body: { status: 'error', errorType: 'bad_data', error: 'parse error at char 5' } }]);
    const err = await new PrometheusClient({ baseUrl: url, ...noSleep }).query('sum(').catch((e) => e);
    expect(isQuenchError(err, 'prometheus_query_failed')).toBe(true);
    expect(err.message).toBe('Prometheus rejected the query (bad_data): parse error at char 5');
    expect(requests).toHaveLength(1);
  });

  it('reports execution errors (422) and non-JSON answers without retrying', async () => {
    const url = await fakePrometheus([
      { status: 422, body: { status: 'error', errorType: 'execution', error: 'many-to-many matching not allowed' } },
      { status: 404, body: '<html>not prometheus</html>' },
    ]);
    const client = new PrometheusClient({ baseUrl: url, ...noSleep });
    await expect(client.query('a / b')).rejects.toThrow('(execution): many-to-many');
    await expect(client.query('up')).rejects.toThrow('HTTP 404 with a body that is not its API');
  });

  it('times out a hanging Prometheus and retries it as transient', async () => {
    const url = await fakePrometheus(['hang', vector([{}, '2'])]);
    const client = new PrometheusClient({ baseUrl: url, timeoutMs: 200, ...noSleep });
    expect(await client.query('up')).toEqual([{ labels: {}, value: 2 }]);
    expect(requests).toHaveLength(2);
  });

  it('an abort from the caller (the SLO time limit) cancels the request and is not retried', async () => {
    const url = await fakePrometheus(['hang', vector([{}, '2'])]);
    const controller = new AbortController();
    const pending = new PrometheusClient({ baseUrl: url, timeoutMs: 10_000, ...noSleep }).query('up', undefined, controller.signal);
    while (requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    controller.abort(new Error('slo time limit'));
    await expect(pending).rejects.toThrow('slo time limit');
    expect(requests).toHaveLength(1);
  });

  it('connection refused is transient', async () => {
    const client = new PrometheusClient({ baseUrl: 'http://127.0.0.1:1', retries: 1, ...noSleep });
    await expect(client.query('up')).rejects.toThrow(/stayed unavailable after 2 attempts: cannot reach it/);
  });

  it('rejects sample values that are not numbers', () => {
    expect(() => parseSampleValue('abc')).toThrow('not a number');
    expect(parseSampleValue('1e3')).toBe(1000);
  });
});
