import { createHmac } from 'node:crypto';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql as drizzleSql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.js';
import { createPostgresDatabase, databaseKinds } from '../support/databases.js';
import { alertmanagerBody, genericBody, pagerdutyBody, signGeneric } from '../support/ingest-webhooks.js';
import { childEnv, type ServeProcess, startServe } from '../support/quench-process.js';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack.js';
import { sendRaw } from '../support/raw-http.js';
import { slackSignature } from '../support/slack-signer.js';

/**
 * Issue 9 acceptance: hundreds of malformed requests over every route, sent as raw bytes to a
 * real `quench serve` child process. Each must get its documented 4xx (in the JSON error
 * shape), the process must stay alive and serving throughout, and no row may change in runs,
 * inbox or audit. The requests that would be accepted if a check were missing are signed or
 * carry valid credentials, so that only the check under test stands between them and a row.
 */
const FULL = 'bad-input-full-token-0123456789abcdef';
const READ = 'bad-input-read-token-0123456789abcdef';
const GENERIC_SECRET = 'generic-secret-0123456789';
const PD_SECRET = 'pagerduty-secret-0123456789';
const AM_TOKEN = 'alertmanager-token-0123456789';
const MAX_BYTES = 65_536;
const SLACK_SECRET = 'slack-signing-secret-0123456789';

interface Case {
  name: string;
  bytes: Buffer;
  expect: number;
  /** Half-close after sending (a truncated body), instead of waiting with the socket open. */
  halfClose?: boolean;
}

const CRLF = '\r\n';
function raw(method: string, target: string, headers: Record<string, string> = {}, body?: Buffer | string, extra = ''): Buffer {
  const b = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  if (b !== undefined && !Object.keys(headers).some((k) => /^(content-length|transfer-encoding)$/i.test(k))) lines.push(`Content-Length: ${b.length}`);
  return Buffer.concat([Buffer.from(lines.join(CRLF) + extra + CRLF + CRLF, 'latin1'), b ?? Buffer.alloc(0)]);
}

const now = () => Math.floor(Date.now() / 1000);
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
let seq = 0;
const uid = () => `bad-${++seq}-${Math.random().toString(36).slice(2)}`;

/** A body each endpoint would accept, signed or credentialled for it, with the given bytes in place of the body when given. */
const webhooks = {
  generic: (body: Buffer | string, headers: Record<string, string> = {}) => {
    const text = Buffer.isBuffer(body) ? body : Buffer.from(body);
    const ts = String(now());
    const signature = `sha256=${createHmac('sha256', GENERIC_SECRET).update(Buffer.concat([Buffer.from(`${ts}.`), text])).digest('hex')}`;
    return raw('POST', '/webhooks/generic/ci', { 'content-type': 'application/json', 'x-quench-timestamp': ts, 'x-quench-signature': signature, ...headers }, text);
  },
  pagerduty: (body: Buffer | string, headers: Record<string, string> = {}) => {
    const text = Buffer.isBuffer(body) ? body : Buffer.from(body);
    const signature = `v1=${createHmac('sha256', PD_SECRET).update(text).digest('hex')}`;
    return raw('POST', '/webhooks/pagerduty', { 'content-type': 'application/json', 'x-webhook-id': uid(), 'x-pagerduty-signature': signature, ...headers }, text);
  },
  alertmanager: (body: Buffer | string, headers: Record<string, string> = {}) =>
    raw('POST', '/webhooks/alertmanager', { 'content-type': 'application/json', ...bearer(AM_TOKEN), ...headers }, body),
  decision: (body: Buffer | string, headers: Record<string, string> = {}) =>
    raw('POST', '/v1/steps/no-such-step/decision', { 'content-type': 'application/json', ...bearer(FULL), ...headers }, body),
};

const validBodies = {
  generic: () => genericBody(uid()),
  pagerduty: () => pagerdutyBody(uid(), 'incident.triggered', 'PINC1'),
  alertmanager: () => alertmanagerBody([{ labels: { alertname: uid(), service: 'checkout' } }]),
  decision: () => JSON.stringify({ decision: 'approve', comment: 'ok' }),
};
type Kind = keyof typeof webhooks;
const KINDS = Object.keys(webhooks) as Kind[];

/** Every route, with a concrete target and the method it takes. */
const ROUTES: Array<[string, string]> = [
  ['GET', '/healthz'],
  ['GET', '/readyz'],
  ['GET', '/metrics'],
  ['POST', '/webhooks/alertmanager'],
  ['POST', '/webhooks/pagerduty'],
  ['POST', '/webhooks/generic/ci'],
  ['GET', '/v1/slos'],
  ['GET', '/v1/slos/checkout'],
  ['GET', '/v1/runs'],
  ['GET', '/v1/runs/some-run'],
  ['POST', '/v1/steps/some-step/decision'],
  ['GET', '/v1/audit'],
  ['POST', '/slack/events'],
];

function cases(): Case[] {
  const out: Case[] = [];
  const add = (name: string, bytes: Buffer, expectStatus: number, halfClose = false) => out.push({ name, bytes, expect: expectStatus, halfClose });

  // 1. Bad percent-encoding in every parameterised route (the §1 crashes among them).
  const badEncodings = ['%', '%E0%A4%A', '%ZZ', '%00', '%C0%AF', '%FF', '%ED%A0%80', '%%41', 'a%2', '%0a'];
  for (const enc of badEncodings) {
    add(`GET /v1/slos/${enc}`, raw('GET', `/v1/slos/${enc}`, bearer(READ)), 400);
    add(`GET /v1/runs/${enc}`, raw('GET', `/v1/runs/${enc}`, bearer(READ)), 400);
    add(`POST /v1/steps/${enc}/decision`, raw('POST', `/v1/steps/${enc}/decision`, { ...bearer(FULL), 'content-type': 'application/json' }, validBodies.decision()), 400);
    add(`POST /webhooks/generic/${enc}`, raw('POST', `/webhooks/generic/${enc}`, { 'content-type': 'application/json' }, validBodies.generic()), 400);
  }

  // 2. Absolute-form and malformed request lines.
  const lines: Array<[string, number]> = [
    ['GET http://[/ HTTP/1.1', 400],
    ['GET http://%zz/ HTTP/1.1', 400],
    ['GET http:// HTTP/1.1', 400],
    ['GET http://[::1/v1/runs HTTP/1.1', 400],
    ['POST http://[/webhooks/alertmanager HTTP/1.1', 400],
    ['GET http://a:99999/healthz HTTP/1.1', 400],
    ['GET http://x/%ZZ HTTP/1.1', 400],
    ['GET http://x/v1/runs/%00 HTTP/1.1', 400],
    ['GET ftp://example/healthz HTTP/1.1', 400],
    ['GET * HTTP/1.1', 400],
    ['OPTIONS * HTTP/1.1', 400],
    ['GET /healthz HTTX/1.1', 400],
    ['GET /healthz HTTP/1.1 trailing', 400],
    ['GET /heal thz HTTP/1.1', 400],
    ['GET /healthz\x7f HTTP/1.1', 400],
    ['GET /v1/runs/%00?x=1 HTTP/1.1', 400],
    ['GET', 405],
    ['\x00\x01\x02\x03', 405],
    ['GET /healthz HTTP/1.1\nX-Bare-LF: 1', 400],
  ];
  for (const [line, status] of lines) add(`request line ${JSON.stringify(line)}`, Buffer.from(`${line}${CRLF}Host: x${CRLF}Connection: close${CRLF}${CRLF}`, 'latin1'), status);
  add('CONNECT (authority-form)', Buffer.from(`CONNECT example.com:443 HTTP/1.1${CRLF}Host: example.com:443${CRLF}${CRLF}`), 405);
  add('header without a colon', Buffer.from(`GET /healthz HTTP/1.1${CRLF}Host: x${CRLF}NoColonHere${CRLF}${CRLF}`), 400);
  add('header name with a space', Buffer.from(`GET /healthz HTTP/1.1${CRLF}Host: x${CRLF}Bad Name: 1${CRLF}${CRLF}`), 400);

  // 3. Unknown and unrouted methods on every route.
  for (const [, target] of ROUTES) {
    for (const method of ['FROB', 'get', 'PUT', 'DELETE', 'PROPFIND']) add(`${method} ${target}`, raw(method, target, bearer(FULL)), 405);
  }

  // 4. Oversized headers on every route (Node's limit is 16 KiB in total).
  for (const [method, target] of ROUTES) add(`20 KiB header on ${method} ${target}`, raw(method, target, { 'X-Big': 'a'.repeat(20_000) }), 431);
  for (const kind of ['alertmanager', 'pagerduty', 'generic'] as const) {
    const many: Record<string, string> = {};
    for (let i = 0; i < 3000; i++) many[`X-H${i}`] = 'v';
    add(`3000 headers on ${kind}`, raw('POST', `/webhooks/${kind === 'generic' ? 'generic/ci' : kind}`, many, '{}'), 431);
  }

  // 5. Oversized bodies: declared, and streamed chunked past the limit.
  for (const kind of KINDS) {
    const huge = Buffer.alloc(MAX_BYTES + 10, 0x20);
    add(`${kind}: declared 10 MB`, rawDeclared(kind), 413);
    const chunked = Buffer.concat([Buffer.from(`${huge.length.toString(16)}${CRLF}`), huge, Buffer.from(`${CRLF}0${CRLF}${CRLF}`)]);
    add(`${kind}: chunked past the limit`, withBody(webhooks[kind](huge), { 'Transfer-Encoding': 'chunked' }, chunked), 413);
  }

  // 6. Deep JSON, authenticated so the depth check is what refuses it.
  for (const kind of KINDS) {
    add(`${kind}: 5000 nested arrays`, webhooks[kind]('['.repeat(5000) + ']'.repeat(5000)), 400);
    add(`${kind}: 200 nested objects`, webhooks[kind]('{"a":'.repeat(200) + '1' + '}'.repeat(200)), 400);
  }

  // 7. Wrong content types on bodies that would otherwise be accepted.
  for (const kind of KINDS) {
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      // JSON in a charset other than UTF-8 would be decoded as something its sender did not mean.
      'application/json; charset=latin1',
      'application/json; charset="ISO-8859-1"',
      'application/json;charset=utf-16',
    ]) {
      add(`${kind}: Content-Type ${type}`, webhooks[kind](validBodies[kind](), { 'content-type': type }), 415);
    }
  }

  // 8. Invalid UTF-8 inside otherwise valid, authenticated JSON.
  for (const kind of KINDS) {
    for (const bad of [[0xff], [0xc3, 0x28], [0xc0, 0xaf], [0xed, 0xa0, 0x80]]) {
      const text = validBodies[kind]();
      const i = text.indexOf('"', text.indexOf(':') + 1) + 1;
      const body = Buffer.concat([Buffer.from(text.slice(0, i)), Buffer.from(bad), Buffer.from(text.slice(i))]);
      add(`${kind}: invalid UTF-8 ${bad.map((b) => b.toString(16)).join(' ')}`, webhooks[kind](body), 400);
    }
  }

  // 9. Truncated and contradictory framing.
  for (const kind of KINDS) {
    const body = validBodies[kind]();
    const full = webhooks[kind](body);
    add(`${kind}: body cut short, then half-closed`, full.subarray(0, full.length - Math.floor(body.length / 2)), 400, true);
    add(`${kind}: bad chunk size`, withBody(full, { 'Transfer-Encoding': 'chunked' }, Buffer.from(`zz${CRLF}abc${CRLF}0${CRLF}${CRLF}`)), 400);
    add(`${kind}: Content-Length and Transfer-Encoding`, withBody(full, { 'Transfer-Encoding': 'chunked', 'Content-Length': '5' }, Buffer.from(`0${CRLF}${CRLF}`)), 400);
    add(`${kind}: two different Content-Lengths`, withBody(full, { 'Content-Length': `${body.length}${CRLF}Content-Length: 3` }, Buffer.from(body)), 400);
  }

  // 10. Credentials: none, wrong, read-only where writing, wrong scheme.
  for (const [method, target] of ROUTES.filter(([, t]) => t.startsWith('/v1'))) {
    add(`${method} ${target} without a token`, raw(method, target, {}, method === 'POST' ? validBodies.decision() : undefined), 401);
    add(`${method} ${target} with an unknown token`, raw(method, target, bearer('x'.repeat(40)), method === 'POST' ? validBodies.decision() : undefined), 401);
    add(`${method} ${target} with Basic auth`, raw(method, target, { Authorization: 'Basic YTpi' }, method === 'POST' ? validBodies.decision() : undefined), 401);
  }
  add('decision with a read-only token', webhooks.decision(validBodies.decision(), bearer(READ)), 403);
  add('generic: unknown source', raw('POST', '/webhooks/generic/nobody', { 'content-type': 'application/json' }, validBodies.generic()), 404);
  // The deploy gate: a repeated parameter would let the first one win silently (service=demo&service=checkout);
  // a NUL in change failed the blocked answer's audit insert (503); an unbounded change filled the trail.
  for (const query of ['service=a&service=b', 'service=a&risk=low&risk=high', 'service=a&change=x&change=y', 'service=a&change=a%00b', 'service=a&change=a%0Ab', `service=a&change=${'x'.repeat(201)}`])
    add(`GET /v1/deploy-gate?${query.slice(0, 60)}`, raw('GET', `/v1/deploy-gate?${query}`, bearer(READ)), 400);
  // Every route's query is checked value by value: the first of two used to go to the handler unchecked.
  for (const query of ['limit=abc&limit=1', 'limit=1&limit=abc', 'before=2026-01-01T00:00:00Z&before=yesterday', 'state=running&state=running&limit=1&limit=2'])
    add(`GET /v1/runs?${query}`, raw('GET', `/v1/runs?${query}`, bearer(READ)), 400);
  add('generic: no signature', raw('POST', '/webhooks/generic/ci', { 'content-type': 'application/json', 'x-quench-timestamp': String(now()) }, validBodies.generic()), 401);
  add('generic: stale timestamp', (() => {
    const body = validBodies.generic();
    return raw('POST', '/webhooks/generic/ci', signGeneric(GENERIC_SECRET, body, now() - 3600), body);
  })(), 401);
  add('generic: signed with another secret', (() => {
    const body = validBodies.generic();
    return raw('POST', '/webhooks/generic/ci', signGeneric('not-the-secret', body, now()), body);
  })(), 401);
  add('pagerduty: bad signature', raw('POST', '/webhooks/pagerduty', { 'content-type': 'application/json', 'x-pagerduty-signature': 'v1=zz' }, validBodies.pagerduty()), 401);
  add('pagerduty: no signature', raw('POST', '/webhooks/pagerduty', { 'content-type': 'application/json' }, validBodies.pagerduty()), 401);
  add('alertmanager: wrong token', raw('POST', '/webhooks/alertmanager', { 'content-type': 'application/json', ...bearer('nope') }, validBodies.alertmanager()), 401);
  add('alertmanager: no credentials', raw('POST', '/webhooks/alertmanager', { 'content-type': 'application/json' }, validBodies.alertmanager()), 401);

  // 11. Well-formed JSON that is not a valid payload, and empty bodies.
  const invalid: Record<Kind, string[]> = {
    generic: ['{}', '[]', '"text"', '{"id":""}', 'null'],
    pagerduty: ['{}', '{"event":{}}', '[]', 'null', '{"event":{"id":1}}'],
    alertmanager: ['{}', '{"version":"3"}', '[]', 'null', '{"version":"4","alerts":"x"}'],
    decision: ['{}', '{"decision":"maybe"}', '[]', 'null', '{"decision":"approve","extra":{"a":1}}'],
  };
  for (const kind of KINDS) {
    for (const body of invalid[kind]) add(`${kind}: invalid payload ${body}`, webhooks[kind](body), 400);
    add(`${kind}: empty body`, webhooks[kind](''), 400);
    add(`${kind}: malformed JSON`, webhooks[kind]('{"a":'), 400);
  }

  // 12. Slack's request URL: unsigned, wrongly signed, stale, and signed but malformed.
  const slack = (body: string, contentType: string, ts = now(), secret = SLACK_SECRET) =>
    raw('POST', '/slack/events', { 'Content-Type': contentType, 'X-Slack-Request-Timestamp': String(ts), 'X-Slack-Signature': slackSignature(secret, ts, body) }, body);
  const interaction = `payload=${encodeURIComponent(JSON.stringify({ type: 'block_actions', actions: [] }))}`;
  add('slack: no signature', raw('POST', '/slack/events', { 'Content-Type': 'application/x-www-form-urlencoded' }, interaction), 401);
  add('slack: signed with another secret', slack(interaction, 'application/x-www-form-urlencoded', now(), 'not-the-secret'), 401);
  add('slack: stale timestamp', slack(interaction, 'application/x-www-form-urlencoded', now() - 3600), 401);
  add('slack: malformed JSON', slack('{"type":', 'application/json'), 400);
  add('slack: malformed payload field', slack('payload=%7B%22type', 'application/x-www-form-urlencoded'), 400);
  add('slack: declared 10 MB', raw('POST', '/slack/events', { 'Content-Type': 'application/json', 'Content-Length': String(10 * 1024 * 1024) }), 413);

  // 13. Query strings the /v1 reads refuse.
  for (const q of ['/v1/runs?state=bogus', '/v1/audit?limit=abc', '/v1/audit?after=-5', '/v1/audit?after=1e99']) add(`GET ${q}`, raw('GET', q, bearer(READ)), 400);
  return out;
}

function rawDeclared(kind: Kind): Buffer {
  // Only the headers go out: a 10 MB Content-Length is refused before the body is read.
  const bytes = webhooks[kind]('{}', { 'Content-Length': String(10 * 1024 * 1024) });
  return bytes.subarray(0, bytes.indexOf(`${CRLF}${CRLF}`) + 4);
}

/** The request's headers with some added (or replaced), followed by the given body bytes. */
function withBody(request: Buffer, headers: Record<string, string>, body: Buffer): Buffer {
  const end = request.indexOf(`${CRLF}${CRLF}`);
  const head = request
    .subarray(0, end)
    .toString('latin1')
    .split(CRLF)
    .filter((l) => !/^(content-length|transfer-encoding):/i.test(l));
  for (const [k, v] of Object.entries(headers)) head.push(`${k}: ${v}`);
  return Buffer.concat([Buffer.from(head.join(CRLF) + CRLF + CRLF, 'latin1'), body]);
}

describe.each(databaseKinds)('bad input against `quench serve` on %s', (kind) => {
  let serve: ServeProcess;
  let dataDir: string | undefined;
  let url: string | undefined;
  let drop: (() => Promise<void>) | undefined;
  let fakeSlack: FakeSlack | undefined;

  beforeAll(async () => {
    fakeSlack = await startFakeSlack();
    const dir = mkdtempSync(join(tmpdir(), 'quench-bad-input-'));
    mkdirSync(join(dir, 'slo'));
    mkdirSync(join(dir, 'playbooks'));
    // A playbook every generic, PagerDuty and Alertmanager event would start: an accepted request would show as a run.
    writeFileSync(
      join(dir, 'playbooks', 'catch-all.yaml'),
      `apiVersion: quench/v1
kind: Playbook
metadata: { name: catch-all, owner: sre }
triggers:
  - { source: "generic:ci" }
  - { source: pagerduty }
  - { source: alertmanager }
steps:
  - { id: note, kind: action, action: log, params: { message: started } }
`,
    );
    const database: Record<string, string> = {};
    if (kind === 'postgres') {
      ({ url, drop } = await createPostgresDatabase());
      database.DATABASE_URL = url;
    } else {
      dataDir = join(dir, 'data');
      database.QUENCH_DATA_DIR = dataDir;
    }
    serve = await startServe(
      childEnv({
        ...database,
        QUENCH_SLO_DIR: join(dir, 'slo'),
        QUENCH_PLAYBOOK_DIR: join(dir, 'playbooks'),
        QUENCH_LISTEN_HOST: '127.0.0.1',
        QUENCH_API_TOKENS: `alice=${FULL},grafana:read=${READ}`,
        QUENCH_WEBHOOK_SECRETS: `ci=${GENERIC_SECRET}`,
        PAGERDUTY_WEBHOOK_SECRET: PD_SECRET,
        QUENCH_ALERTMANAGER_TOKEN: AM_TOKEN,
        QUENCH_WEBHOOK_MAX_BYTES: String(MAX_BYTES),
        // Keep each refusal its own status here; the failure bucket has its own test.
        QUENCH_WEBHOOK_AUTH_FAILURE_BURST: '100000',
        QUENCH_WEBHOOK_RATE_BURST: '100000',
        SLACK_BOT_TOKEN: 'xoxb-test-token',
        SLACK_SIGNING_SECRET: SLACK_SECRET,
        SLACK_API_URL: fakeSlack.url,
        LOG_LEVEL: 'warn',
      }),
    );
  });
  afterAll(async () => {
    serve?.kill('SIGKILL');
    await serve?.exited;
    await drop?.();
    await fakeSlack?.close();
  });

  /** What must not change: runs, inbox and audit rows, read through the API and (PostgreSQL) the database. */
  async function state(): Promise<unknown> {
    const get = async (path: string) => (await fetch(`${serve.url}${path}`, { headers: bearer(READ) })).json();
    const api = { runs: await get('/v1/runs'), audit: await get('/v1/audit?limit=1000') };
    if (!url) return api;
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const digest = async (table: string, order: string) =>
        (await sql.unsafe(`select count(*)::int as n, coalesce(md5(string_agg(t::text, '|' order by ${order})), '') as d from ${table} t`))[0];
      return {
        ...api,
        runs: await digest('engine_runs', 'id'),
        inbox: await digest('ingest_inbox', 'id'),
        events: await digest('ingest_events', 'id'),
        audit: await digest('audit_events', 'seq'),
      };
    } finally {
      await sql.end();
    }
  }

  it('answers every malformed request with its documented 4xx, keeps serving, and changes no row', async () => {
    const all = cases();
    expect(all.length).toBeGreaterThanOrEqual(200);
    console.log(`bad-input: ${all.length} malformed requests`);
    const before = await state();
    const wrong: string[] = [];
    for (const [i, c] of all.entries()) {
      let got: string;
      try {
        const res = await sendRaw(serve.port, c.bytes, { halfClose: c.halfClose, timeoutMs: 15_000 });
        const body = (() => {
          try {
            return JSON.parse(res.body) as { error?: string };
          } catch {
            return {};
          }
        })();
        got = `${res.status}${typeof body.error === 'string' ? '' : ' (no JSON error body)'}`;
      } catch (err) {
        got = `no answer: ${(err as Error).message.slice(0, 120)}`;
      }
      if (got !== String(c.expect)) wrong.push(`${c.name}: expected ${c.expect}, got ${got}`);
      if (i % 25 === 24) expect((await fetch(`${serve.url}/healthz`)).status, `alive after ${i + 1} requests`).toBe(200);
    }
    expect(wrong).toEqual([]);
    expect((await fetch(`${serve.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${serve.url}/readyz`)).status).toBe(200);
    expect(serve.output()).not.toMatch(/unhandled promise rejection|uncaught exception/);
    expect(await state()).toEqual(before);

    if (dataDir) {
      // PGlite: stop the process, then read its tables directly.
      serve.kill('SIGTERM');
      expect(await serve.exited).toBe(0);
      const db = await openDatabase({ dataDir });
      try {
        const count = async (table: string) => Number((await db.rows<{ n: number }>(sqlCount(table)))[0]!.n);
        expect({ runs: await count('engine_runs'), inbox: await count('ingest_inbox'), events: await count('ingest_events') }).toEqual({
          runs: 0,
          inbox: 0,
          events: 0,
        });
      } finally {
        await db.close();
      }
    }
  });
});

const sqlCount = (table: string) => drizzleSql.raw(`select count(*)::int as n from ${table}`);
