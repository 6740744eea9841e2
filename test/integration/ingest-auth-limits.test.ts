import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ManualClock } from '../../src/core/clock.js';
import { TokenAuthenticator } from '../../src/http/auth.js';
import { Router } from '../../src/http/router.js';
import { createHttpServer, type HttpServer } from '../../src/http/server.js';
import { clientKey } from '../../src/ingest/core/rate-limit.js';
import { inboxStats } from '../../src/ingest/inbox.js';
import { createIngestMetrics } from '../../src/ingest/metrics.js';
import { addWebhookRoutes } from '../../src/ingest/routes.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { freshDatabase, type TestDatabase } from '../support/databases.js';
import { pagerdutyBody, signPagerDuty } from '../support/ingest-webhooks.js';

// Issue 9 §4: the rate limit was charged before authentication, so an unsigned flood made
// correctly signed PagerDuty deliveries get 429. Now authentication comes first, only
// authenticated requests spend a source's budget, and failed authentications are limited
// per client address. The attacker sends from 127.0.0.2 (loopback too, another address).
const SECRET = 'pd-secret-0123456789abcdef';
const clock = new ManualClock('2026-11-21T19:00:00Z');

function post(port: number, body: string, headers: Record<string, string>, localAddress: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/webhooks/pagerduty', method: 'POST', headers, localAddress }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('webhook authentication before rate limits', () => {
  let t: TestDatabase;
  let http: HttpServer;
  let port: number;
  beforeAll(async () => {
    t = await freshDatabase('pglite');
    const metrics = createMetrics();
    const config = loadConfig({
      PAGERDUTY_WEBHOOK_SECRET: SECRET,
      QUENCH_WEBHOOK_RATE_LIMIT: '1',
      QUENCH_WEBHOOK_RATE_BURST: '10',
      QUENCH_WEBHOOK_AUTH_FAILURE_RATE: '1',
      QUENCH_WEBHOOK_AUTH_FAILURE_BURST: '5',
    });
    const router = new Router();
    addWebhookRoutes(router, { db: t.db, clock, config, metrics: createIngestMetrics(metrics.registry, () => inboxStats(t.db, clock.now())) });
    http = createHttpServer({ router, auth: new TokenAuthenticator(new Map()), logger: silentLogger, metrics });
    port = await http.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await http?.close();
    await t?.dispose();
  });

  const signed = (id: string, from: string) => {
    const body = pagerdutyBody(`ev-${id}`, 'incident.triggered', `inc-${id}`);
    return post(port, body, signPagerDuty([SECRET], body, `wh-${id}`), from);
  };

  it('an unsigned flood spends no signed sender budget, and is itself cut off per address', async () => {
    const flood: number[] = [];
    for (let i = 0; i < 30; i++) {
      const body = pagerdutyBody(`forged-${i}`, 'incident.triggered', 'inc-x');
      flood.push((await post(port, body, { 'content-type': 'application/json', 'x-pagerduty-signature': 'v1=00' }, '127.0.0.2')).status);
    }
    expect(flood.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(new Set(flood.slice(5))).toEqual(new Set([429]));

    const delivered: number[] = [];
    for (let i = 0; i < 10; i++) delivered.push((await signed(`ok-${i}`, '127.0.0.1')).status);
    expect(delivered).toEqual(Array(10).fill(202));

    // The flooding address is refused before any work, even with a good signature, until its bucket refills.
    const blocked = await signed('from-attacker', '127.0.0.2');
    expect(blocked.status).toBe(429);
    expect(JSON.parse(blocked.body)).toMatchObject({ error: 'rate_limited', message: expect.stringMatching(/failed authentications/) });
    clock.advance(10_000);
    expect((await signed('later', '127.0.0.2')).status).toBe(202);
  });

  it('keys failed authentications by IPv4 address, or by IPv6 /64', () => {
    expect(clientKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(clientKey('2001:db8:0:1:aaaa::1')).toBe(clientKey('2001:db8:0:1:bbbb:cccc:dddd:eeee'));
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('2001:db8:0:2::1')).not.toBe(clientKey('2001:db8:0:1::1'));
  });
});
