import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { type RunningService, startService } from '../../src/service.js';
import { silentLogger } from '../../src/telemetry/logger.js';

// The in-process service on an in-memory PGlite: routes, auth, metrics and request ids.
describe('HTTP service', () => {
  let service: RunningService;
  let base: string;
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${base}${path}`, { headers });

  beforeAll(async () => {
    const config = loadConfig({
      QUENCH_DATA_DIR: 'memory://',
      QUENCH_API_TOKENS: 'alice=alice-token-123-0123456789abcdef0123',
      QUENCH_SLO_DIR: 'test/fixtures/none',
      QUENCH_PLAYBOOK_DIR: 'test/fixtures/none',
    });
    service = await startService(config, { logger: silentLogger, port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${service.port}`;
  });
  afterAll(async () => service?.stop());

  it('answers liveness and readiness', async () => {
    expect(await (await get('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', database: 'pglite' });
  });

  it('echoes a caller request id, or makes one', async () => {
    expect((await get('/healthz', { 'X-Request-Id': 'trace-abc.1' })).headers.get('x-request-id')).toBe('trace-abc.1');
    expect((await get('/healthz', { 'X-Request-Id': 'bad id with spaces' })).headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('exposes process metrics and the request duration histogram by route and status', async () => {
    await get('/no/such/route');
    const text = await (await get('/metrics')).text();
    expect(text).toMatch(/process_cpu_user_seconds_total/);
    expect(text).toMatch(/quench_http_request_duration_seconds_count\{method="GET",route="\/healthz",status="200"\} \d+/);
    expect(text).toMatch(/route="unmatched",status="404"/);
  });

  it('answers 404 and 405 with a JSON error', async () => {
    const missing = await get('/nope');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: 'not_found' });
    const wrong = await fetch(`${base}/healthz`, { method: 'DELETE' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET');
  });

  it('pages the audit trail for bearer-token holders only', async () => {
    for (let i = 0; i < 5; i++) {
      await service.ctx.audit.append({ actor: { type: 'user', id: 'alice' }, action: 'test.page', subject: { type: 't', id: String(i) } });
    }
    expect((await get('/v1/audit')).status).toBe(401);
    expect((await get('/v1/audit', { Authorization: 'Bearer wrong' })).status).toBe(401);
    const auth = { Authorization: 'Bearer alice-token-123-0123456789abcdef0123' };
    const first = (await (await get('/v1/audit?limit=2', auth)).json()) as { entries: Array<{ seq: number }>; next: number | null };
    expect(first.entries.map((e) => e.seq)).toEqual([1, 2]);
    expect(first.next).toBe(2);
    const rest = (await (await get(`/v1/audit?after=${first.next}&limit=100`, auth)).json()) as {
      entries: Array<{ seq: number }>;
      next: number | null;
    };
    expect(rest.entries.length).toBeGreaterThanOrEqual(3);
    expect(rest.entries[0]!.seq).toBe(3);
    expect(rest.next).toBeNull();
    expect(await (await get('/metrics')).text()).toMatch(new RegExp(`quench_audit_head_sequence ${rest.entries.at(-1)!.seq}`));
    expect((await get('/v1/audit?after=-1', auth)).status).toBe(400);
  });
});
