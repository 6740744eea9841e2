import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertmanagerAvailable, startAlertmanager } from '../support/alertmanager.js';
import { type FakeSlack, startFakeSlack } from '../support/fake-slack.js';
import { alertmanagerBody } from '../support/ingest-webhooks.js';
import { childEnv, freePort, type ServeProcess, startServe } from '../support/quench-process.js';
import { waitFor } from '../support/wait-for.js';

/**
 * OpenTelemetry as a user configures it: `quench serve` with only the standard OTEL_* variables,
 * exporting OTLP/HTTP JSON to a receiver in this test that decodes every export. An Alertmanager
 * webhook (sent with a traceparent, as an instrumented sender would) starts a run whose step
 * calls `http.request`: the receiver must see ONE trace from the webhook's server span through
 * the run's start, step and attempt spans to the client span of the call, with the
 * semantic-convention attribute names, and the called server must get the trace context.
 */
type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
type OtlpSpan = {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: Array<{ key: string; value: AnyValue }>;
  status?: { code?: number };
};
type Export = { resourceSpans: Array<{ resource: { attributes: Array<{ key: string; value: AnyValue }> }; scopeSpans: Array<{ spans: OtlpSpan[] }> }> };

const SERVER = 2;
const CLIENT = 3;
const UPSTREAM_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const UPSTREAM_SPAN = '00f067aa0ba902b7';

const playbook = (port: number) => `apiVersion: quench/v1
kind: Playbook
metadata: { name: checkout-call, owner: sre }
triggers:
  - { source: alertmanager, labels: { service: checkout } }
steps:
  - id: call
    kind: action
    action: http.request
    params: { url: "http://127.0.0.1:${port}/hook?token=secret", method: POST }
  - id: confirm
    kind: human
    type: approve
    prompt: "Did the call help?"
    assign: { users: [U0ONCALL] }
    timeout: 1h
`;

const attrs = (span: OtlpSpan): Record<string, unknown> =>
  Object.fromEntries((span.attributes ?? []).map((a) => [a.key, a.value.stringValue ?? (a.value.intValue !== undefined ? Number(a.value.intValue) : (a.value.boolValue ?? a.value.doubleValue))]));

describe('OpenTelemetry traces from quench serve (OTLP/HTTP JSON)', () => {
  let dir: string;
  let serve: ServeProcess;
  let receiver: Server;
  let target: Server;
  let slack: FakeSlack;
  const exports: Export[] = [];
  const contentTypes: string[] = [];
  const targetHeaders: IncomingHttpHeaders[] = [];

  const spans = () => exports.flatMap((e) => e.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)));

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (body += d));
      req.on('end', () => {
        if (req.url === '/v1/traces' && req.method === 'POST') {
          contentTypes.push(String(req.headers['content-type']));
          exports.push(JSON.parse(body) as Export);
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    target = createServer((req, res) => {
      targetHeaders.push(req.headers);
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const targetPort = (target.address() as AddressInfo).port;

    slack = await startFakeSlack({ users: [{ id: 'U0ONCALL', name: 'oncall', email: 'oncall@example.com' }] });
    dir = mkdtempSync(join(tmpdir(), 'quench-otel-'));
    mkdirSync(join(dir, 'slo'));
    mkdirSync(join(dir, 'playbooks'));
    writeFileSync(join(dir, 'playbooks', 'call.yaml'), playbook(targetPort));
    serve = await startServe(
      childEnv({
        QUENCH_DATA_DIR: join(dir, 'data'),
        QUENCH_SLO_DIR: join(dir, 'slo'),
        QUENCH_PLAYBOOK_DIR: join(dir, 'playbooks'),
        QUENCH_HTTP_ALLOWLIST: `127.0.0.1:${targetPort}`,
        QUENCH_ENGINE_POLL_MS: '200',
        SLACK_BOT_TOKEN: 'xoxb-test-token',
        SLACK_SIGNING_SECRET: 'test-signing-secret',
        SLACK_API_URL: slack.url,
        QUENCH_SLACK_CHANNEL: 'C0INCIDENT',
        PROMETHEUS_URL: `http://127.0.0.1:${await freePort()}`,
        OTEL_SERVICE_NAME: 'quench-under-test',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test,team=sre',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/v1/traces`,
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
        OTEL_TRACES_SAMPLER: 'parentbased_always_on',
        OTEL_BSP_SCHEDULE_DELAY: '200',
      }),
    );
  }, 120_000);

  afterAll(async () => {
    serve?.kill();
    await serve?.exited;
    await new Promise((r) => receiver?.close(r));
    await new Promise((r) => target?.close(r));
    await slack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('one trace from the Alertmanager webhook through the run to the http.request call', async () => {
    const res = await fetch(`${serve.url}/webhooks/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${UPSTREAM_TRACE}-${UPSTREAM_SPAN}-01` },
      body: alertmanagerBody([{ labels: { alertname: 'HighLatency', service: 'checkout' }, fingerprint: 'otel1' }]),
    });
    expect(res.status).toBe(202);

    await waitFor('the http.request client span', async () => spans().some((s) => s.kind === CLIENT && String(attrs(s)['url.full']).includes('/hook')));
    await waitFor('the step span', async () => spans().some((s) => s.name === 'quench.step'));
    expect(contentTypes.every((t) => t.startsWith('application/json'))).toBe(true);

    const all = spans();
    const byId = new Map(all.map((s) => [s.spanId, s]));
    const webhook = all.find((s) => s.kind === SERVER && attrs(s)['http.route'] === '/webhooks/alertmanager')!;
    expect(webhook).toBeDefined();
    expect(webhook.name).toBe('POST /webhooks/alertmanager');
    expect(attrs(webhook)).toMatchObject({
      'http.request.method': 'POST',
      'url.path': '/webhooks/alertmanager',
      'url.scheme': 'http',
      'http.route': '/webhooks/alertmanager',
      'http.response.status_code': 202,
      'server.address': '127.0.0.1',
      'server.port': serve.port,
    });
    // The trace is the sender's: the webhook span is a child of the traceparent it came with.
    expect(webhook.traceId).toBe(UPSTREAM_TRACE);
    expect(webhook.parentSpanId).toBe(UPSTREAM_SPAN);

    const call = all.find((s) => s.kind === CLIENT && String(attrs(s)['url.full']).includes('/hook'))!;
    expect(call.name).toBe('POST');
    expect(attrs(call)).toMatchObject({ 'http.request.method': 'POST', 'http.response.status_code': 200, 'server.address': '127.0.0.1' });
    expect(String(attrs(call)['url.full'])).not.toContain('secret');
    expect(call.traceId).toBe(UPSTREAM_TRACE);

    // Walk from the call up to the webhook: every hop is in the same trace.
    const chain: string[] = [];
    for (let s: OtlpSpan | undefined = call; s; s = s.parentSpanId ? byId.get(s.parentSpanId) : undefined) chain.push(s.name);
    expect(chain).toEqual(['POST', 'quench.attempt', 'quench.run.start', 'POST /webhooks/alertmanager', ...chain.slice(4)]);
    // Steps and attempts are children of the run's start span (a run outlives processes: src/engine/tracing.ts).
    const runStart = all.find((s) => s.name === 'quench.run.start')!;
    const step = all.find((s) => s.name === 'quench.step')!;
    expect(step.traceId).toBe(UPSTREAM_TRACE);
    expect(step.parentSpanId).toBe(runStart.spanId);
    expect(new Set(all.filter((s) => s.name.startsWith('quench.') || s === webhook || s === call).map((s) => s.traceId))).toEqual(new Set([UPSTREAM_TRACE]));

    // The called server received the trace context of the client span.
    expect(targetHeaders.at(-1)?.traceparent).toBe(`00-${UPSTREAM_TRACE}-${call.spanId}-01`);

    // Resource from OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
    const resource = Object.fromEntries(exports[0]!.resourceSpans[0]!.resource.attributes.map((a) => [a.key, a.value.stringValue]));
    expect(resource).toMatchObject({ 'service.name': 'quench-under-test', 'deployment.environment.name': 'test', team: 'sre' });
  }, 120_000);

  it('puts trace and span ids in the JSON log lines', () => {
    const lines = serve
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const request = lines.find((l) => l.msg === 'request' && l.route === '/webhooks/alertmanager');
    expect(request).toMatchObject({ trace_id: UPSTREAM_TRACE });
    const webhook = spans().find((s) => s.kind === SERVER && attrs(s)['http.route'] === '/webhooks/alertmanager')!;
    expect(request?.span_id).toBe(webhook.spanId);
  });

  it('marks failures with error.type', async () => {
    const res = await fetch(`${serve.url}/v1/runs/nope`);
    expect(res.status).toBe(404);
    const bad = await fetch(`${serve.url}/webhooks/alertmanager`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(bad.status).toBe(400);
    await waitFor('the 404 server span', async () => spans().some((s) => attrs(s)['http.route'] === '/v1/runs/:id'));
    const notFound = spans().find((s) => attrs(s)['http.route'] === '/v1/runs/:id')!;
    expect(attrs(notFound)['http.response.status_code']).toBe(404);
    // 4xx on a server span is the client's error: no error.type (semantic conventions).
    expect(attrs(notFound)['error.type']).toBeUndefined();
  });

  it('makes a client span of every Slack Web API call, with error.type when Slack refuses', async () => {
    await waitFor('the incident thread post', async () => slack.callsTo('chat.postMessage').length > 0);
    await waitFor('the chat.postMessage client span', async () => spans().some((s) => s.kind === CLIENT && attrs(s)['slack.method'] === 'chat.postMessage'));
    const post = spans().find((s) => s.kind === CLIENT && attrs(s)['slack.method'] === 'chat.postMessage')!;
    expect(post.name).toBe('POST /api/chat.postMessage');
    expect(attrs(post)).toMatchObject({ 'http.request.method': 'POST', 'url.full': `${slack.url}/chat.postMessage`, 'url.template': '/api/chat.postMessage', 'server.address': '127.0.0.1' });
    expect(attrs(post)['error.type']).toBeUndefined();

    // The next thread post is refused: its span carries error.type and an error status.
    slack.failNext('chat.postMessage', 'not_in_channel');
    const res = await fetch(`${serve.url}/webhooks/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // Another alert group: a new incident, so a new run and a new thread post.
      body: alertmanagerBody([{ labels: { alertname: 'HighErrors', service: 'checkout' }, fingerprint: 'otel2' }], '{}:{alertname="HighErrors"}'),
    });
    expect(res.status).toBe(202);
    await waitFor('a failed Slack client span', async () => spans().some((s) => s.kind === CLIENT && attrs(s)['slack.method'] === 'chat.postMessage' && attrs(s)['error.type'] !== undefined));
    const failed = spans().find((s) => s.kind === CLIENT && attrs(s)['slack.method'] === 'chat.postMessage' && attrs(s)['error.type'] !== undefined)!;
    expect(failed.status?.code).toBe(2);
  }, 60_000);

  it.skipIf(!alertmanagerAvailable)('a real Alertmanager notification starts one trace that reaches the http.request call', async () => {
    const am = await startAlertmanager({ webhookUrl: `${serve.url}/webhooks/alertmanager` });
    try {
      await am.postAlerts([{ labels: { alertname: 'RealAlertmanager', service: 'checkout' }, startsAt: new Date().toISOString() }]);
      // Alertmanager sends no traceparent: the webhook's server span is the trace's root.
      const webhook = await waitFor('the notification from Alertmanager', async () =>
        spans().find((s) => s.kind === SERVER && attrs(s)['http.route'] === '/webhooks/alertmanager' && !s.parentSpanId && attrs(s)['user_agent.original'] !== undefined && String(attrs(s)['user_agent.original']).includes('Alertmanager')),
      );
      const call = await waitFor('the http.request call in that trace', async () =>
        spans().find((s) => s.kind === CLIENT && s.traceId === webhook.traceId && String(attrs(s)['url.full']).includes('/hook')),
      );
      const byId = new Map(spans().map((s) => [s.spanId, s]));
      const chain: string[] = [];
      for (let s: OtlpSpan | undefined = call; s; s = s.parentSpanId ? byId.get(s.parentSpanId) : undefined) chain.push(s.name);
      expect(chain).toEqual(['POST', 'quench.attempt', 'quench.run.start', 'POST /webhooks/alertmanager']);
      expect(attrs(webhook)).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/webhooks/alertmanager', 'http.response.status_code': 202 });
      expect(spans().some((s) => s.name === 'quench.step' && s.traceId === webhook.traceId)).toBe(true);
    } finally {
      await am.stop();
    }
  }, 90_000);
});
