import { sql } from 'drizzle-orm';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultApprovalPolicy } from '../../src/chat/core/auto-approval.js';
import { ManualClock } from '../../src/core/clock.js';
import { openApiPath } from '../../src/http/openapi.js';
import { alertmanagerBody, genericBody, pagerdutyBody, signGeneric, signPagerDuty } from '../support/ingest-webhooks.js';
import { waitFor } from '../support/wait-for.js';
import { folderWith, type ServiceHarness, startServiceHarness, syntheticSlo } from './service-harness.js';

/**
 * Every answer a client generated from /openapi.json will parse, checked against it: the whole
 * service on PGlite, each documented route driven for real (runs started, decided, rejected,
 * cancelled and acknowledged, a four-eyes step, an auto-approval reviewed, a drill scored and a
 * scenario armed, a dead-lettered step re-driven, freezes and overrides, the audit trail,
 * webhooks, the dead inbox, a weekly report stored and served in each format), and every
 * 2xx body validated by a JSON Schema 2020-12 validator (ajv) against the schema the document
 * publishes for that route and status, references resolved in the document as a client would.
 *
 * A body is checked twice: as published (types, required fields, enums, formats), and with every
 * object the document describes closed, so a field a handler sends that the document does not
 * describe fails too. The published objects stay open: an answer may gain fields (docs/cli.md).
 */
const tokens = {
  alice: 'alice-token-0123456789abcdefghijklmnop',
  bob: 'bob-token-0123456789abcdefghijklmnopqr',
  carol: 'carol-token-0123456789abcdefghijklmnopq',
};
type Who = keyof typeof tokens;
const clock = new ManualClock(Date.parse('2026-11-01T00:00:00Z'));

const playbook = (name: string, steps: string) => `apiVersion: quench/v1
kind: Playbook
metadata: { name: ${name}, owner: sre }
steps:
${steps}`;
const done = `  - id: done
    kind: action
    action: log
    params: { message: done }
    drillSafe: true
`;
const files = {
  'checkout.yaml': syntheticSlo({ name: 'checkout-availability', service: 'checkout', owner: '#checkout', sli: '    script: [{ at: "0", errorRatio: 0.0001 }]' }),
  'ask.yaml': playbook('ask', `  - id: ask\n    kind: human\n    type: approve\n    prompt: Proceed?\n${done}`),
  'four-eyes.yaml': playbook('four-eyes', `  - id: ask\n    kind: human\n    type: approve\n    prompt: Roll back?\n    risk: high\n${done}`),
  'auto.yaml': playbook('auto', `  - id: restart\n    kind: human\n    type: approve\n    prompt: Restart the pods?\n    confidence: 0.95\n    impact: low\n${done}`),
  'probe.yaml': playbook('probe', done),
  // One attempt: a failure injected by a drill dead-letters the step at once (the clock stands still).
  'doomed.yaml': playbook('doomed', done.replace('id: done', 'id: flaky').replace('drillSafe: true', 'drillSafe: true\n    retry: { maxAttempts: 1 }')),
  // A scenario drill starts the playbook through a burn alert of the SLO: the playbook must answer one.
  'burn-response.yaml': playbook('burn-response', done).replace('steps:', 'triggers:\n  - { source: slo, type: slo.burn, slo: { name: checkout-availability, severity: page } }\nsteps:'),
};
const scenario = `apiVersion: quench/v1
kind: DrillScenario
metadata: { name: burn }
slo: checkout-availability
synthetic: { script: [{ at: -1h, errorRatio: 0.5 }] }
`;

type Schema = Record<string, unknown>;
type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: Schema }> }> }>> };

let h: ServiceHarness;
let drills: string;
let doc: Doc;
const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictTuples: false });
// The document itself is no schema: its OpenAPI fields are known keywords that hold no schema,
// and the schemas under them are compiled by JSON pointer (validatorsOf).
ajv.addVocabulary(['openapi', 'info', 'jsonSchemaDialect', 'paths', 'components']);
// ajv-formats is CommonJS: its plugin is the module's default export.
ajvFormats.default(ajv);
const validators = new Map<string, { published: ValidateFunction; closed: ValidateFunction }>();
/** method path-template status → how many answers were checked. */
const checked = new Map<string, number>();

/** Every object the document describes gets additionalProperties: false (records and loose objects say their own). */
function closed(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(closed);
  if (node === null || typeof node !== 'object') return node;
  const out: Schema = {};
  for (const [k, v] of Object.entries(node)) out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as Schema).map(([p, s]) => [p, closed(s)])) : closed(v);
  if (out.type === 'object' && out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

const pointer = (...parts: string[]) => parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

/** The validators of one documented answer, compiled once, from the document by JSON pointer (so `$ref`s resolve in it). */
function validatorsOf(path: string, method: string, status: string, mediaType: string) {
  const key = `${method} ${path} ${status} ${mediaType}`;
  let v = validators.get(key);
  if (!v) {
    const at = `#/${pointer('paths', path, method, 'responses', status, 'content', mediaType, 'schema')}`;
    v = { published: ajv.getSchema(`openapi.json${at}`)!, closed: ajv.getSchema(`closed.json${at}`)! };
    validators.set(key, v);
  }
  return v;
}

/**
 * Calls the service and checks the answer against the document: a 2xx must be documented with
 * its media type; any answer the document describes (the gate's 423, Flagger's 403, the error
 * shape of a 400 or 404) must match. Returns status and body.
 */
async function call(method: string, path: string, o: { as?: Who; body?: unknown; headers?: Record<string, string>; raw?: string } = {}) {
  const res = await fetch(`${h.base}${path}`, {
    method,
    headers: {
      ...(o.as ? { authorization: `Bearer ${tokens[o.as]}` } : {}),
      ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...o.headers,
    },
    ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : o.raw !== undefined ? { body: o.raw } : {}),
  });
  const text = await res.text();
  const contentType = res.headers.get('content-type') ?? '';
  const json = contentType.startsWith('application/json');
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read answers of many shapes; the schema check is what types them
  const body: any = json ? JSON.parse(text) : text;
  const success = res.status >= 200 && res.status < 300;
  const pathname = new URL(path, h.base).pathname;
  const found = h.service.ctx.router.match(method, pathname);
  if (success && !(found && 'route' in found)) throw new Error(`${method} ${pathname} matched no route`);
  if (found && 'route' in found) {
    const template = openApiPath(found.route.pattern);
    const m = method.toLowerCase();
    const answer = doc.paths[template]?.[m]?.responses[String(res.status)];
    if (success) expect(answer, `${method} ${template} answered ${res.status}, a status the document does not list`).toBeDefined();
    const mediaType = Object.keys(answer?.content ?? {}).find((t) => contentType.startsWith(t));
    if (success) expect(mediaType, `${method} ${template} ${res.status} answered ${contentType}, which the document does not list`).toBeDefined();
    if (mediaType === 'application/json') {
      const { published, closed: strict } = validatorsOf(template, m, String(res.status), mediaType);
      const where = `${method} ${path} → ${res.status}`;
      expect(published(body) ? [] : published.errors, `${where} does not match its published schema:\n${text.slice(0, 2000)}`).toEqual([]);
      expect(strict(body) ? [] : strict.errors, `${where} sends fields its published schema does not describe:\n${text.slice(0, 2000)}`).toEqual([]);
    }
    if (mediaType) checked.set(`${m} ${template} ${res.status}`, (checked.get(`${m} ${template} ${res.status}`) ?? 0) + 1);
  }
  return { status: res.status, body };
}

const ok = async (expected: number, p: Promise<{ status: number; body: unknown }>) => {
  const r = await p;
  expect(r.status, JSON.stringify(r.body)).toBe(expected);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see call()
  return r.body as any;
};

/** Polls GET /v1/runs/:id (each answer checked) until a step with `key` is waiting; returns its id. */
const waitingStep = (runId: string, key: string) =>
  waitFor(`step ${key} of run ${runId} to wait`, async () => {
    const run = await ok(200, call('GET', `/v1/runs/${runId}`, { as: 'bob' }));
    return (run.steps as Array<{ id: string; key: string; status: string }>).find((s) => s.key === key && s.status === 'waiting')?.id;
  });
const ended = (runId: string) =>
  waitFor(`run ${runId} to end`, async () => {
    const run = await ok(200, call('GET', `/v1/runs/${runId}`, { as: 'bob' }));
    return run.endedAt ? run : undefined;
  });

beforeAll(async () => {
  drills = folderWith('quench-openapi-drills-', { 'burn.yaml': scenario });
  h = await startServiceHarness({
    kind: 'pglite',
    name: 'openapi_responses',
    files,
    playbooks: true,
    clock,
    tokens,
    env: {
      QUENCH_DRILL_DIR: drills,
      QUENCH_ENGINE_POLL_MS: '50',
      QUENCH_APPROVAL_POLICY: JSON.stringify({ ...defaultApprovalPolicy, sampleShare: 1 }),
      QUENCH_WEBHOOK_SECRETS: 'ci=ci-secret',
      PAGERDUTY_WEBHOOK_SECRET: 'pd-secret',
      QUENCH_ALERTMANAGER_TOKEN: 'am-token-1',
    },
  });
  doc = (await (await fetch(`${h.base}/openapi.json`)).json()) as Doc;
  ajv.addSchema(doc, 'openapi.json');
  ajv.addSchema({ ...doc, paths: closed(doc.paths) }, 'closed.json');
}, 120_000);
afterAll(async () => {
  await h?.stop();
  const { rmSync } = await import('node:fs');
  if (drills) rmSync(drills, { recursive: true, force: true });
}, 60_000);

describe('every answer matches the schema /openapi.json publishes for its route and status', { timeout: 120_000 }, () => {
  it('health, metrics and the documents', async () => {
    await ok(200, call('GET', '/healthz'));
    await ok(200, call('GET', '/readyz'));
    expect(await ok(200, call('GET', '/metrics'))).toMatch(/quench_http_request_duration_seconds/);
    await ok(200, call('GET', '/openapi.json'));
    await ok(200, call('GET', '/schemas/playbook.json'));
    await ok(200, call('GET', '/schemas/slo.json'));
  });

  it('SLOs, before and after an evaluation', async () => {
    // Evaluated once at start; pending (not_evaluated) statuses have the same shape.
    expect((await ok(200, call('GET', '/v1/slos', { as: 'bob' }))).slos[0].state).toBe('ok');
    await h.service.ctx.ports.slo.evaluateNow();
    expect((await ok(200, call('GET', '/v1/slos?service=checkout', { as: 'bob' }))).slos).toHaveLength(1);
    expect(await ok(200, call('GET', '/v1/slos/checkout-availability', { as: 'bob' }))).toMatchObject({ name: 'checkout-availability', owner: { slack: '#checkout' } });
  });

  it('runs: started, listed, decided, four-eyes, rejected, cancelled, acknowledged', async () => {
    const started = await ok(201, call('POST', '/v1/runs', { as: 'alice', body: { playbook: 'ask' } }));
    expect(started).toMatchObject({ playbook: 'ask', drill: false, startedBy: 'user:alice' });
    const step = await waitingStep(started.runId, 'ask');
    expect(await ok(200, call('POST', `/v1/steps/${step}/decision`, { as: 'bob', body: { decision: 'approve', comment: 'go' } }))).toMatchObject({ status: 'decided', result: 'succeeded' });
    expect((await ended(started.runId)).state).toBe('succeeded');

    const high = await ok(201, call('POST', '/v1/runs', { as: 'alice', body: { playbook: 'four-eyes' } }));
    const highStep = await waitingStep(high.runId, 'ask');
    expect(await ok(200, call('POST', `/v1/steps/${highStep}/decision`, { as: 'bob', body: { decision: 'approve' } }))).toMatchObject({ status: 'approval_recorded', approvals: 1, required: 2 });
    await ok(200, call('GET', `/v1/runs/${high.runId}`, { as: 'bob' }));
    expect(await ok(200, call('POST', `/v1/steps/${highStep}/decision`, { as: 'carol', body: { decision: 'approve' } }))).toMatchObject({ status: 'decided' });
    await ended(high.runId);

    const rejected = await ok(201, call('POST', '/v1/runs', { as: 'alice', body: { playbook: 'ask' } }));
    const rejectedStep = await waitingStep(rejected.runId, 'ask');
    expect(await ok(200, call('POST', `/v1/steps/${rejectedStep}/decision`, { as: 'alice', body: { decision: 'reject', reason: 'wrong service' } }))).toMatchObject({ result: 'failed' });
    expect((await ended(rejected.runId)).error).toMatchObject({ code: 'rejected' });

    const cancelled = await ok(201, call('POST', '/v1/runs', { as: 'alice', body: { playbook: 'ask' } }));
    await waitingStep(cancelled.runId, 'ask');
    expect(await ok(200, call('POST', `/v1/runs/${cancelled.runId}/cancel`, { as: 'bob', body: { reason: 'not needed' } }))).toMatchObject({ state: 'cancelled', by: 'bob' });
    expect(await ok(200, call('POST', `/v1/runs/${cancelled.runId}/ack`, { as: 'bob' }))).toMatchObject({ first: true, pagerduty: [] });
    await ok(200, call('POST', `/v1/runs/${cancelled.runId}/ack`, { as: 'carol' }));
    await ended(cancelled.runId);

    const all = await ok(200, call('GET', '/v1/runs', { as: 'bob' }));
    expect(all.runs.length).toBeGreaterThanOrEqual(4);
    await ok(200, call('GET', `/v1/runs?state=succeeded,cancelled&limit=2&before=${encodeURIComponent(all.runs[0].createdAt)}`, { as: 'bob' }));
    expect((await ok(200, call('GET', '/v1/runs?correlationId=none', { as: 'bob' }))).next).toBeNull();
  });

  it('an auto-approval sampled for review, and its review', async () => {
    const run = await ok(201, call('POST', '/v1/runs', { as: 'alice', body: { playbook: 'auto' } }));
    await ended(run.runId);
    const pending = await waitFor('the sampled review', async () => {
      const list = await ok(200, call('GET', '/v1/reviews', { as: 'bob' }));
      return list.reviews.find((r: { runId: string }) => r.runId === run.runId);
    });
    expect(pending.review).toBeNull();
    expect((await ok(200, call('POST', `/v1/reviews/${pending.stepId}`, { as: 'bob', body: { verdict: 'agree', note: 'fine' } }))).review).toMatchObject({ verdict: 'agree', via: 'api' });
    expect((await ok(200, call('GET', '/v1/reviews?status=all', { as: 'bob' }))).reviews.length).toBeGreaterThan(0);
  });

  it('drills: a DRILL run and its scorecard, a scenario armed', async () => {
    const drill = await ok(201, call('POST', '/v1/runs', { as: 'alice', body: { playbook: 'probe', drill: {} } }));
    expect(drill.drill).toBe(true);
    expect((await ended(drill.runId)).drill).toEqual({});
    await waitFor('the scorecard', async () => (await call('GET', `/v1/runs/${drill.runId}/scorecard`, { as: 'bob' })).status === 200);
    expect(await ok(202, call('POST', '/v1/runs', { as: 'alice', body: { playbook: 'burn-response', drill: { scenario: 'burn' } } }))).toMatchObject({ armed: true, scenario: 'burn' });
  });

  it('a dead-lettered step, listed, re-driven and dead-lettered again', async () => {
    const run = await ok(201, call('POST', '/v1/runs', { as: 'alice', body: { playbook: 'doomed', drill: { fail: ['flaky'] } } }));
    expect((await ended(run.runId)).state).toBe('failed');
    const letter = await waitFor('the dead letter', async () => (await ok(200, call('GET', '/v1/dlq', { as: 'bob' }))).deadLetters.find((d: { runId: string }) => d.runId === run.runId));
    expect(letter).toMatchObject({ stepKey: 'flaky', action: 'log', reason: 'exhausted', retriedAt: null, retriedBy: null });
    expect(await ok(200, call('POST', `/v1/dlq/${letter.id}/retry`, { as: 'bob' }))).toEqual({ id: letter.id, runId: run.runId, stepId: letter.stepId, by: 'bob' });
    // The drill injects the failure on every attempt: re-driven, the step fails for good again.
    const both = await waitFor('the second dead letter', async () => {
      const list = (await ok(200, call('GET', '/v1/dlq?all=true&limit=50', { as: 'bob' }))).deadLetters.filter((d: { runId: string }) => d.runId === run.runId);
      return list.length === 2 ? list : undefined;
    });
    expect(both.find((d: { id: string }) => d.id === letter.id)).toMatchObject({ retriedBy: 'bob' });
  });

  it('the deploy gate, freezes and overrides', async () => {
    expect((await ok(200, call('GET', '/v1/deploy-gate?service=checkout', { as: 'bob' }))).allowed).toBe(true);
    expect((await ok(400, call('POST', '/v1/freezes', { as: 'alice', body: { services: ['checkout'], reason: 'x', until: '4h', extra: true } }))).error).toBe('validation_failed');
    const freeze = await ok(201, call('POST', '/v1/freezes', { as: 'alice', body: { services: ['checkout'], reason: 'release freeze', until: '4h' } }));
    expect((await ok(423, call('GET', '/v1/deploy-gate?service=checkout&change=abc', { as: 'bob' }))).reasons).toHaveLength(1);
    expect((await ok(200, call('GET', '/v1/deploy-gate?service=checkout&always200=true', { as: 'bob' }))).allowed).toBe(false);
    await ok(200, call('GET', '/v1/freezes', { as: 'bob' }));
    const flagger = (change: string) => ({ name: 'checkout', namespace: 'shop', phase: 'Progressing', checksum: change, metadata: { token: tokens.bob } });
    await ok(403, call('POST', '/v1/deploy-gate/flagger', { body: flagger('abc') }));

    const override = await ok(201, call('POST', '/v1/overrides', { as: 'alice', body: { service: 'checkout', change: 'abc', reason: 'the fix', until: '1h' } }));
    expect((await ok(200, call('POST', `/v1/overrides/${override.id}/approve`, { as: 'bob' }))).approvers).toEqual(['bob']);
    await ok(200, call('POST', `/v1/overrides/${override.id}/approve`, { as: 'carol' }));
    await ok(200, call('GET', '/v1/overrides', { as: 'bob' }));
    expect((await ok(200, call('GET', '/v1/deploy-gate?service=checkout&change=abc', { as: 'bob' }))).override).toMatchObject({ id: override.id });
    await ok(200, call('POST', '/v1/deploy-gate/flagger', { body: flagger('abc') }));
    expect(await ok(200, call('DELETE', `/v1/freezes/${freeze.id}?reason=done`, { as: 'alice' }))).toMatchObject({ id: freeze.id });
  });

  it('webhooks, accepted and repeated, and the dead inbox', async () => {
    const am = alertmanagerBody([{ labels: { alertname: 'HighLatency', service: 'checkout' } }]);
    const amHeaders = { 'content-type': 'application/json', authorization: 'Bearer am-token-1' };
    expect(await ok(202, call('POST', '/webhooks/alertmanager', { raw: am, headers: amHeaders }))).toMatchObject({ status: 'accepted' });
    expect(await ok(202, call('POST', '/webhooks/alertmanager', { raw: am, headers: amHeaders }))).toMatchObject({ status: 'duplicate' });
    const pd = pagerdutyBody('evt-1', 'incident.triggered', 'PINC1');
    await ok(202, call('POST', '/webhooks/pagerduty', { raw: pd, headers: signPagerDuty(['pd-secret'], pd, 'wh-1') }));
    const generic = genericBody('deploy-1');
    await ok(202, call('POST', '/webhooks/generic/ci', { raw: generic, headers: signGeneric('ci-secret', generic, clock.now().getTime() / 1000) }));

    // A delivery that failed every attempt, as the inbox worker leaves one.
    const [dead] = await h.service.ctx.db.rows<{ id: number }>(sql`
      insert into ingest_inbox (source, delivery_key, received_at, headers, body, status, attempts, next_attempt_at, last_error)
      values ('generic:ci', 'dead-1', now(), '{}'::jsonb, '{"id":"dead-1"}', 'dead', 5, now(), 'playbook ''gone'' is not loaded')
      returning id`);
    const listed = await ok(200, call('GET', '/v1/inbox/dead', { as: 'bob' }));
    expect(listed.entries.map((e: { id: number }) => e.id)).toContain(Number(dead!.id));
    expect(await ok(200, call('POST', `/v1/inbox/${dead!.id}/retry`, { as: 'bob' }))).toMatchObject({ status: 'pending', by: 'bob' });
  });

  it('the audit trail and its verification', async () => {
    await h.service.ctx.audit.flush();
    const page = await ok(200, call('GET', '/v1/audit?limit=500', { as: 'bob' }));
    expect(page.entries.length).toBeGreaterThan(10);
    await ok(200, call('GET', `/v1/audit?after=${page.entries[0].seq}&limit=2`, { as: 'bob' }));
    const report = await ok(200, call('GET', '/v1/audit/verify', { as: 'bob' }));
    expect(report.ok).toBe(true);
    expect((await ok(200, call('GET', `/v1/audit/verify?expect=${report.head.seq}:${report.head.hash}`, { as: 'bob' }))).expectedMatched).toBe(1);
  });

  it('the weekly report: computed and stored, then served as stored in each format, and posted', async () => {
    const to = clock.now();
    const week = `from=${new Date(to.getTime() - 7 * 86_400_000).toISOString()}&to=${to.toISOString()}`;
    const computed = await ok(200, call('GET', `/v1/reports?${week}`, { as: 'bob' }));
    expect(computed.slos.map((s: { slo: string }) => s.slo)).toEqual(['checkout-availability']);
    expect(computed.response.deadLetteredSteps).toBeGreaterThan(0);
    const stored = await h.service.ctx.db.rows<{ n: number }>(sql`select count(*)::int as n from report_periods where report is not null`);
    expect(stored[0]!.n).toBe(1);
    expect(await ok(200, call('GET', `/v1/reports?${week}&format=json`, { as: 'bob' }))).toEqual(computed);
    expect(await ok(200, call('GET', `/v1/reports?${week}&format=md`, { as: 'bob' }))).toContain('checkout-availability');
    expect(await ok(200, call('GET', `/v1/reports?${week}&format=html`, { as: 'bob' }))).toContain('checkout-availability');
    expect(await ok(200, call('POST', `/v1/reports/post?${week}`, { as: 'alice' }))).toEqual(computed);
  });

  it('every documented answer with a body of its own was checked at least once; every /v1, webhook and health answer has a schema', () => {
    const missing: string[] = [];
    const unchecked: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      if (path === '/slack/events') continue; // Bolt's receiver answers Slack itself
      for (const [method, op] of Object.entries(ops)) {
        for (const [status, answer] of Object.entries(op.responses)) {
          // Error answers share one schema, checked wherever one came; 503 (readyz) needs a failing database.
          const own = Object.values(answer.content ?? {}).some((c) => !('$ref' in c.schema));
          if (!/^2\d\d$/.test(status)) {
            if (own && !status.startsWith('5') && !checked.has(`${method} ${path} ${status}`)) unchecked.push(`${method} ${path} ${status}`);
            continue;
          }
          if (!answer.content) missing.push(`${method} ${path} ${status}`);
          else if (!checked.has(`${method} ${path} ${status}`)) unchecked.push(`${method} ${path} ${status}`);
        }
      }
    }
    expect(missing, 'answers without a schema').toEqual([]);
    expect(unchecked, 'documented answers this test never received').toEqual([]);
  });
});
