import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { deflateSync, gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ManualClock } from '../../src/core/clock.js';
import { TokenAuthenticator } from '../../src/http/auth.js';
import { Router } from '../../src/http/router.js';
import { createHttpServer, type HttpServer } from '../../src/http/server.js';
import { inboxStats } from '../../src/ingest/inbox.js';
import { createIngestMetrics } from '../../src/ingest/metrics.js';
import { addWebhookRoutes } from '../../src/ingest/routes.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { type RunningService, startService } from '../../src/service.js';
import { createPostgresDatabase, databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';
import { waitFor } from '../support/wait-for.js';
import { alertmanagerBody, genericBody, pagerdutyBody, signGeneric, signPagerDuty } from '../support/ingest-webhooks.js';

// The webhook endpoints of the real service over HTTP on 127.0.0.1, on a real database: what is
// refused, with which status and reason, and that a refusal or a repeat touches neither the
// inbox nor the runs.
const MAX_BYTES = 64 * 1024;
const AM_TOKEN = 'am-token-1';
const clock = new ManualClock('2026-11-21T19:00:00Z');
const now = () => clock.now().getTime() / 1000;

interface Case {
  name: string;
  path: string;
  body: string | Buffer;
  headers: Record<string, string>;
  status: number;
  reason: string;
  /** A fragment the error message must contain (field paths for schema errors). */
  message?: RegExp;
}

const am = (body: string | Buffer, extra: Record<string, string> = {}) => ({
  path: '/webhooks/alertmanager',
  body,
  headers: { 'content-type': 'application/json', authorization: `Bearer ${AM_TOKEN}`, ...extra },
});
const generic = (body: string, ts = now(), source = 'ci', secret = 'ci-secret') => ({
  path: `/webhooks/generic/${source}`,
  body,
  headers: signGeneric(secret, body, ts),
});
const pd = (body: string, webhookId = 'wh-1', secrets = ['pd-secret']) => ({
  path: '/webhooks/pagerduty',
  body,
  headers: signPagerDuty(secrets, body, webhookId),
});
const deep = `${'['.repeat(200)}${']'.repeat(200)}`;
const valid = alertmanagerBody([{ labels: { alertname: 'HighLatency' } }]);

const badInputs: Case[] = [
  { name: 'truncated JSON', ...am(valid.slice(0, -7)), status: 400, reason: 'bad_json', message: /malformed JSON/ },
  { name: 'empty body', ...am(''), status: 400, reason: 'bad_json' },
  {
    name: 'wrong type: alerts is a string',
    ...am(JSON.stringify({ ...JSON.parse(valid), alerts: 'x' })),
    status: 400,
    reason: 'schema',
    message: /alerts/,
  },
  {
    name: 'wrong type: a label value is a number',
    ...am(valid.replace('"alertname":"HighLatency"', '"alertname":7')),
    status: 400,
    reason: 'schema',
    message: /alerts\.0\.labels\.alertname/,
  },
  {
    name: 'wrong payload version',
    ...am(valid.replace('"version":"4"', '"version":"3"')),
    status: 400,
    reason: 'schema',
    message: /version/,
  },
  { name: 'body over the limit', ...am(`{"pad":"${'x'.repeat(MAX_BYTES)}"}`), status: 413, reason: 'too_large' },
  { name: 'nested too deep', ...am(deep), status: 400, reason: 'too_deep', message: /nested 200 levels/ },
  { name: 'not UTF-8', ...am(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), status: 400, reason: 'bad_encoding' },
  { name: 'Alertmanager without credentials', ...am(valid, { authorization: '' }), status: 401, reason: 'missing_credentials' },
  { name: 'Alertmanager with a wrong token', ...am(valid, { authorization: 'Bearer nope' }), status: 401, reason: 'bad_credentials' },
  {
    name: 'PagerDuty with a bad signature',
    ...pd(pagerdutyBody('E9', 'incident.triggered', 'P9'), 'wh-9', ['wrong']),
    status: 401,
    reason: 'bad_signature',
  },
  {
    name: 'PagerDuty without a signature',
    path: '/webhooks/pagerduty',
    body: pagerdutyBody('E9', 'incident.triggered', 'P9'),
    headers: { 'content-type': 'application/json' },
    status: 401,
    reason: 'missing_signature',
  },
  {
    name: 'PagerDuty with a wrong type',
    ...pd(JSON.stringify({ event: { ...JSON.parse(pagerdutyBody('E9', 'incident.triggered', 'P9')).event, id: 12 } }), 'wh-10'),
    status: 400,
    reason: 'schema',
    message: /event\.id/,
  },
  { name: 'generic with a stale timestamp', ...generic(genericBody('g-old'), now() - 301), status: 401, reason: 'stale_timestamp' },
  { name: 'generic from the future', ...generic(genericBody('g-new'), now() + 301), status: 401, reason: 'stale_timestamp' },
  {
    name: 'generic with a bad signature',
    ...generic(genericBody('g-bad'), now(), 'ci', 'not-the-secret'),
    status: 401,
    reason: 'bad_signature',
  },
  {
    name: 'generic without a signature',
    path: '/webhooks/generic/ci',
    body: genericBody('g-none'),
    headers: { 'content-type': 'application/json' },
    status: 401,
    reason: 'missing_timestamp',
  },
  {
    name: 'generic without a summary',
    ...generic(JSON.stringify({ id: 'g1', type: 't' })),
    status: 400,
    reason: 'schema',
    message: /summary/,
  },
  {
    name: 'generic with a bad severity',
    ...generic(genericBody('g2', { severity: 'doom' })),
    status: 400,
    reason: 'schema',
    message: /severity/,
  },
  // A compressed body used to fail as 'request body is not valid UTF-8', which names neither
  // the cause nor the fix (and a body that happened to be valid UTF-8 would have been stored compressed).
  {
    name: 'Alertmanager body compressed with gzip',
    ...am(gzipSync(valid), { 'content-encoding': 'gzip' }),
    status: 415,
    reason: 'content_encoding',
    message: /Content-Encoding gzip is not accepted: send the body uncompressed/,
  },
  {
    name: 'generic body compressed with deflate',
    ...(() => {
      const body = deflateSync(genericBody('g-deflate'));
      const ts = String(now());
      const signature = `sha256=${createHmac('sha256', 'ci-secret').update(`${ts}.`).update(body).digest('hex')}`;
      return { path: '/webhooks/generic/ci', body, headers: { 'content-type': 'application/json', 'content-encoding': 'deflate', 'x-quench-timestamp': ts, 'x-quench-signature': signature } };
    })(),
    status: 415,
    reason: 'content_encoding',
    message: /Content-Encoding deflate/,
  },
  {
    name: 'generic unknown source',
    ...generic(genericBody('g3'), now(), 'nobody'),
    status: 404,
    reason: 'unknown_source',
    message: /QUENCH_WEBHOOK_SECRETS/,
  },
];

// Originals first; the table's repeats then refer to them.
const originals = {
  am: alertmanagerBody([{ labels: { alertname: 'Repeat', service: 'checkout' } }]),
  pd: pagerdutyBody('E1', 'incident.triggered', 'P1'),
  generic: genericBody('g-1'),
};
const repeats: Case[] = [
  { name: 'a repeated Alertmanager notification', ...am(originals.am), status: 202, reason: 'duplicate' },
  { name: 'a PagerDuty retry (same X-Webhook-Id)', ...pd(originals.pd, 'wh-1'), status: 202, reason: 'duplicate' },
  {
    name: 'a new event under a replayed X-Webhook-Id',
    ...pd(pagerdutyBody('E2', 'incident.triggered', 'P2'), 'wh-1'),
    status: 202,
    reason: 'duplicate',
  },
  { name: 'a replayed PagerDuty event id', ...pd(originals.pd, 'wh-2'), status: 202, reason: 'duplicate' },
  {
    name: 'a repeated generic id with another body',
    ...generic(genericBody('g-1', { summary: 'changed' })),
    status: 202,
    reason: 'duplicate',
  },
];

const PLAYBOOK = `apiVersion: quench/v1
kind: Playbook
metadata: { name: everything, owner: test }
triggers:
  - {}
steps:
  - { id: note, kind: action, action: log, params: { message: hello } }
`;

describe.each(databaseKinds)('webhook endpoints of quench serve on %s', (kind) => {
  let service: RunningService;
  let base: string;
  let dir: string;
  let dropDatabase: (() => Promise<void>) | undefined;
  const count = async (table: string) =>
    Number((await service.ctx.db.rows<{ n: number }>(sql.raw(`select count(*)::int as n from ${table}`)))[0]!.n);
  const snapshot = async () => ({
    inbox: await count('ingest_inbox'),
    events: await count('ingest_events'),
    runs: await count('engine_runs'),
  });
  const post = (c: { path: string; body: string | Buffer; headers: Record<string, string> }) =>
    fetch(`${base}${c.path}`, {
      method: 'POST',
      body: c.body,
      headers: Object.fromEntries(Object.entries(c.headers).filter(([, v]) => v !== '')),
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'quench-webhooks-'));
    writeFileSync(join(dir, 'everything.yaml'), PLAYBOOK);
    let database: Record<string, string> = { QUENCH_DATA_DIR: 'memory://' };
    if (kind === 'postgres') {
      const created = await createPostgresDatabase();
      dropDatabase = created.drop;
      database = { DATABASE_URL: created.url };
    }
    const config = loadConfig({
      ...database,
      QUENCH_PLAYBOOK_DIR: dir,
      QUENCH_SLO_DIR: join(dir, 'none'),
      QUENCH_WEBHOOK_SECRETS: 'ci=ci-secret',
      PAGERDUTY_WEBHOOK_SECRET: 'pd-secret',
      QUENCH_ALERTMANAGER_TOKEN: AM_TOKEN,
      QUENCH_WEBHOOK_MAX_BYTES: String(MAX_BYTES),
    });
    service = await startService(config, { logger: silentLogger, clock, port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${service.port}`;
  });
  afterAll(async () => {
    await service?.stop();
    await dropDatabase?.();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('accepts the originals, each starting one run of the catch-all playbook', async () => {
    // `Content-Encoding: identity` is no encoding at all, and is accepted as such.
    for (const c of [am(originals.am, { 'content-encoding': 'identity' }), pd(originals.pd, 'wh-1'), generic(originals.generic)]) {
      const res = await post(c);
      expect(res.status).toBe(202);
      expect(await res.json()).toMatchObject({ status: 'accepted', id: expect.any(Number) });
    }
    await waitFor(
      'the originals to be processed',
      async () => (await snapshot()).runs === 3 && (await count("ingest_inbox where status <> 'done'")) === 0,
    );
    expect(await snapshot()).toEqual({ inbox: 3, events: 3, runs: 3 });
    const [row] = await service.ctx.db.rows<{ body: string; headers: Record<string, string> | string }>(
      sql`select body, headers from ingest_inbox where source = 'pagerduty'`,
    );
    expect(row!.body).toBe(originals.pd);
    const headers = typeof row!.headers === 'string' ? JSON.parse(row!.headers) : row!.headers;
    expect(headers).toMatchObject({ 'x-webhook-id': 'wh-1' });
    expect(headers).not.toHaveProperty('x-pagerduty-signature');
  });

  it.each([...badInputs, ...repeats])('answers $name with $status and touches neither inbox nor runs', async (c) => {
    const before = await snapshot();
    const res = await post(c);
    const body = (await res.json()) as { status?: string; error?: string; message?: string };
    expect(res.status).toBe(c.status);
    if (c.message) expect(body.message).toMatch(c.message);
    if (c.reason === 'duplicate') expect(body.status).toBe('duplicate');
    // A stored row would show in the inbox count at once; events and runs follow from rows.
    expect(await snapshot()).toEqual(before);
    const text = await service.ctx.metrics.registry.metrics();
    if (c.reason === 'duplicate') expect(text).toMatch(/quench_ingest_dedup_hits_total\{source="[^"]+",level="delivery"\} [1-9]/);
    else expect(text).toMatch(new RegExp(`quench_webhook_rejected_total\\{source="[^"]+",reason="${c.reason}"\\} [1-9]`));
  });

  // What was sent is what is stored and what the run gets. A body that starts with a UTF-8 BOM
  // was accepted (the signature is over the raw bytes) but stored without it, so the stored body
  // no longer matched its signature; a key named `__proto__` was dropped by zod between the
  // stored body and the run; PagerDuty's incident number as a string ("2", as some proxies
  // re-send it) was refused, and PagerDuty does not retry a 4xx.
  it('stores the body byte for byte and gives the run every key as sent', async () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    const pdText = JSON.stringify(JSON.parse(pagerdutyBody('E-bom', 'incident.triggered', 'P-bom'))).replace('"urgency"', '"number":"2","urgency"');
    const pdRaw = Buffer.concat([bom, Buffer.from(pdText)]);
    const pdHeaders = { 'content-type': 'application/json', 'x-webhook-id': 'wh-bom', 'x-pagerduty-signature': `v1=${createHmac('sha256', 'pd-secret').update(pdRaw).digest('hex')}` };
    const genericText = genericBody('g-proto', { labels: JSON.parse('{"service":"checkout","__proto__":"kept"}'), annotations: { runbook: 'r' } });
    const genericRaw = Buffer.concat([bom, Buffer.from(genericText)]);
    const ts = String(now());
    const genericHeaders = { 'content-type': 'application/json', 'x-quench-timestamp': ts, 'x-quench-signature': `sha256=${createHmac('sha256', 'ci-secret').update(`${ts}.`).update(genericRaw).digest('hex')}` };
    const amText = alertmanagerBody([{ labels: JSON.parse('{"alertname":"Proto","__proto__":"label"}'), fingerprint: 'fp-proto' }], '{}:{alertname="Proto"}');
    for (const c of [
      { path: '/webhooks/pagerduty', body: pdRaw, headers: pdHeaders },
      { path: '/webhooks/generic/ci', body: genericRaw, headers: genericHeaders },
      am(amText),
    ]) {
      const res = await post(c);
      expect(res.status, await res.text()).toBe(202);
    }
    await waitFor('the deliveries to be processed', async () => (await count("ingest_inbox where status <> 'done'")) === 0);
    expect(await count("ingest_inbox where status = 'done' and delivery_key in ('E-bom', 'g-proto')")).toBe(2);

    // The bytes as the database holds them (PGlite's driver drops a BOM at the start of any text
    // value it hands back, so the stored bytes are read as hex).
    const stored = async (key: string) =>
      Buffer.from(
        (await service.ctx.db.rows<{ hex: string }>(sql`select encode(convert_to(body, 'UTF8'), 'hex') as hex from ingest_inbox where delivery_key = ${key}`))[0]!.hex,
        'hex',
      );
    // Byte for byte, so the signature verifies over the stored body (an audit, a replay).
    expect((await stored('E-bom')).equals(pdRaw)).toBe(true);
    expect((await stored('g-proto')).equals(genericRaw)).toBe(true);
    expect(`v1=${createHmac('sha256', 'pd-secret').update(await stored('E-bom')).digest('hex')}`).toBe(pdHeaders['x-pagerduty-signature']);

    const trigger = async (key: string) => {
      const [run] = await service.ctx.db.rows<{ trigger: unknown }>(sql`select trigger from engine_runs where trigger->>'key' = ${key}`);
      expect(run, `a run for ${key}`).toBeDefined();
      return (typeof run!.trigger === 'string' ? JSON.parse(run!.trigger) : run!.trigger) as { labels: Record<string, string>; payload: unknown };
    };
    const pdRun = await trigger('incident:P-bom');
    expect(pdRun.labels.incident_number).toBe('2');
    const genericRun = await trigger('deploy.failed{__proto__="kept",service="checkout"}');
    expect(JSON.stringify(genericRun.labels)).toBe('{"service":"checkout","__proto__":"kept"}');
    const amRun = await trigger('fp-proto@2026-11-21T19:00:00Z');
    expect(Object.hasOwn(amRun.labels, '__proto__') && amRun.labels.__proto__).toBe('label');
  });
});

describe('per-source rate limit', () => {
  let t: TestDatabase;
  let http: HttpServer;
  let base: string;
  beforeAll(async () => {
    t = await freshDatabase('pglite');
    const metrics = createMetrics();
    const config = loadConfig({
      QUENCH_WEBHOOK_SECRETS: 'ci=ci-secret,other=o',
      QUENCH_WEBHOOK_RATE_LIMIT: '1',
      QUENCH_WEBHOOK_RATE_BURST: '2',
      QUENCH_ALERTMANAGER_TOKEN: AM_TOKEN,
    });
    const router = new Router();
    addWebhookRoutes(router, {
      db: t.db,
      clock,
      config,
      metrics: createIngestMetrics(metrics.registry, () => inboxStats(t.db, clock.now())),
    });
    http = createHttpServer({ router, auth: new TokenAuthenticator(new Map()), logger: silentLogger, metrics });
    base = `http://127.0.0.1:${await http.listen(0, '127.0.0.1')}`;
  });
  afterAll(async () => {
    await http?.close();
    await t?.dispose();
  });

  it('answers 429 with Retry-After once a source has spent its burst, other sources unaffected', async () => {
    const send = (id: string, source = 'ci', secret = 'ci-secret') => {
      const c = generic(genericBody(id), now(), source, secret);
      return fetch(`${base}${c.path}`, { method: 'POST', body: c.body, headers: c.headers });
    };
    expect((await send('r1')).status).toBe(202);
    expect((await send('r2')).status).toBe(202);
    const limited = await send('r3');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect((await send('o1', 'other', 'o')).status).toBe(202);
    clock.advance(1_000);
    expect((await send('r3')).status).toBe(202);
  });

  it('checks Alertmanager credentials before the limit, so strangers cannot spend its budget', async () => {
    const send = (authorization: string) =>
      fetch(`${base}/webhooks/alertmanager`, {
        method: 'POST',
        body: alertmanagerBody([{ labels: { alertname: `A${Math.random()}` } }]),
        headers: { 'content-type': 'application/json', authorization },
      });
    for (let i = 0; i < 5; i++) expect((await send('Bearer stolen')).status).toBe(401);
    expect((await send(`Bearer ${AM_TOKEN}`)).status).toBe(202);
    expect((await send(`Bearer ${AM_TOKEN}`)).status).toBe(202);
    expect((await send(`Bearer ${AM_TOKEN}`)).status).toBe(429);
  });
});
