import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenAuthenticator } from '../../src/http/auth.js';
import { Router } from '../../src/http/router.js';
import { createHttpServer, type HttpServer } from '../../src/http/server.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { sendRaw } from '../support/raw-http.js';

/**
 * An `Expect` header other than `100-continue`: Node answers 417 by itself, and before the
 * fix it did so with an empty body, the one 4xx not in the JSON error shape. The handler must
 * not run (the request is refused before any body is read).
 */
describe('an unsupported Expect header', () => {
  let http: HttpServer;
  let port: number;
  let handled = 0;

  beforeAll(async () => {
    const router = new Router().add({
      method: 'POST',
      pattern: '/echo',
      auth: 'public',
      handler: () => {
        handled++;
        return { status: 200, body: { ok: true } };
      },
    });
    http = createHttpServer({ router, auth: new TokenAuthenticator(new Map()), logger: silentLogger, metrics: createMetrics() });
    port = await http.listen(0, '127.0.0.1');
  });

  afterAll(() => http.close(100));

  it('is answered 417 in the JSON error shape, and the server keeps serving', async () => {
    const res = await sendRaw(
      port,
      'POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nExpect: 999-nonsense\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
    );
    expect(res.status).toBe(417);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    const body = JSON.parse(res.body) as { error: string; message: string };
    expect(body.error).toBe('expectation_failed');
    expect(body.message).toMatch(/100-continue/);
    expect(handled).toBe(0);
    const ok = await sendRaw(port, 'POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}');
    expect(ok.status).toBe(200);
  });
});
