import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { openApiPath } from '../../src/http/openapi.js';
import { type ServiceHarness, startServiceHarness, syntheticSlo } from './service-harness.js';

/**
 * `GET /openapi.json` of a whole service (Slack on, so /slack/events is registered too): a valid
 * OpenAPI 3.1 document per an OpenAPI validator, with every registered route, the request
 * bodies the routes parse, and the shared error shape.
 */
type Doc = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }> };
};
type Operation = {
  summary: string;
  parameters?: Array<{ name: string; in: string; required: boolean }>;
  requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown>; required?: string[]; additionalProperties?: unknown } }> };
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
  security: unknown[];
};

let h: ServiceHarness;
let doc: Doc;
let response: Response;

beforeAll(async () => {
  h = await startServiceHarness({
    kind: 'pglite',
    name: 'openapi',
    files: { 'checkout.yaml': syntheticSlo({ name: 'checkout-availability', service: 'checkout', sli: '    script: [{ at: "0", errorRatio: 0.0001 }]' }) },
    clock: new ManualClock(Date.parse('2026-11-01T00:00:00Z')),
    tokens: { alice: 'alice-token-0123456789abcdefghijklmnop' },
  });
  response = await fetch(`${h.base}/openapi.json`);
  doc = JSON.parse(await response.text()) as Doc;
}, 120_000);
afterAll(async () => {
  await h?.stop();
}, 60_000);

describe('GET /openapi.json', () => {
  it('is public JSON and a valid OpenAPI 3.1 document', async () => {
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(doc.openapi).toMatch(/^3\.1\./);
    const result = await new Validator().validate(structuredClone(doc) as unknown as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 2)).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('documents every registered route under its method, and only those', () => {
    const registered = h.service.ctx.router.routes.map((r) => `${r.method.toLowerCase()} ${openApiPath(r.pattern)}`);
    expect(registered).toContain('post /slack/events');
    expect(registered).toContain('get /v1/deploy-gate');
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
    expect(documented.sort()).toEqual([...new Set(registered)].sort());
  });

  it('gives every /v1 and webhook route a summary, its path parameters and the error shape', () => {
    const api = h.service.ctx.router.routes.filter((r) => r.pattern.startsWith('/v1/') || r.pattern.startsWith('/webhooks/'));
    expect(api.length).toBeGreaterThan(25);
    const undocumented = api.filter((r) => !r.doc).map((r) => `${r.method} ${r.pattern}`);
    expect(undocumented).toEqual([]);
    for (const route of api) {
      const op = doc.paths[openApiPath(route.pattern)]![route.method.toLowerCase()]!;
      expect(op.summary, route.pattern).toBe(route.doc!.summary);
      const pathParams = [...route.pattern.matchAll(/:(\w+)/g)].map((m) => m[1]);
      expect(op.parameters?.filter((p) => p.in === 'path').map((p) => p.name) ?? [], route.pattern).toEqual(pathParams);
      expect(op.responses.default?.content?.['application/json']?.schema).toEqual({ $ref: '#/components/schemas/Error' });
      if (route.auth !== 'public') expect(op.responses['401'], route.pattern).toBeDefined();
    }
    const error = doc.components.schemas.Error!;
    expect(error.required?.sort()).toEqual(['error', 'message']);
    expect(Object.keys(error.properties ?? {}).sort()).toEqual(['error', 'message', 'requestId']);
  });

  it('request bodies and query parameters come from the schemas the routes parse with', async () => {
    const freeze = doc.paths['/v1/freezes']!.post!.requestBody!.content['application/json']!.schema;
    expect(freeze.required?.sort()).toEqual(['reason', 'services', 'until']);
    expect(freeze.additionalProperties).toBe(false);
    const decision = doc.paths['/v1/steps/{id}/decision']!.post!.requestBody!.content['application/json']!.schema as { oneOf?: unknown[]; anyOf?: unknown[] };
    expect((decision.oneOf ?? decision.anyOf)?.length).toBe(4);
    const gate = doc.paths['/v1/deploy-gate']!.get!;
    expect(gate.parameters?.find((p) => p.name === 'service')).toMatchObject({ in: 'query', required: true });
    expect(gate.parameters?.find((p) => p.name === 'risk')).toMatchObject({ in: 'query', required: false });
    expect(Object.keys(gate.responses)).toEqual(expect.arrayContaining(['200', '404', '423', '401', 'default']));
    // A body the document says is wrong is refused by the route: the same schema decides.
    const refused = await fetch(`${h.base}/v1/freezes`, {
      method: 'POST',
      headers: { authorization: 'Bearer alice-token-0123456789abcdefghijklmnop', 'content-type': 'application/json' },
      body: JSON.stringify({ services: ['checkout'], reason: 'x', until: '1h', extra: true }),
    });
    expect(refused.status).toBe(400);
    // And the gate's answer has the documented fields.
    const answer = (await (await fetch(`${h.base}/v1/deploy-gate?service=checkout`, { headers: { authorization: 'Bearer alice-token-0123456789abcdefghijklmnop' } })).json()) as Record<string, unknown>;
    const documented = (gate.responses['200']!.content!['application/json']!.schema as { required: string[] }).required;
    expect(Object.keys(answer).sort()).toEqual(expect.arrayContaining([...documented].sort()));
  });

  it('a query the document says is wrong is refused by the route: the same schema decides', async () => {
    const auth = { authorization: 'Bearer alice-token-0123456789abcdefghijklmnop' };
    // always200 is documented as true|false: "yes" used to be read as false and answered as if absent.
    const wrong = await fetch(`${h.base}/v1/deploy-gate?service=checkout&always200=yes`, { headers: auth });
    expect(wrong.status).toBe(400);
    const body = (await wrong.json()) as { error: string; message: string };
    expect(body.error).toBe('bad_request');
    expect(body.message).toMatch(/invalid query: always200/);
    expect(wrong.headers.get('x-request-id')).toBeTruthy();
    const limit = await fetch(`${h.base}/v1/audit?limit=ten`, { headers: auth });
    expect(limit.status).toBe(400);
    expect(((await limit.json()) as { message: string }).message).toMatch(/invalid query: limit/);
    // A missing service refused by the query check still shows the route's example.
    const noService = await fetch(`${h.base}/v1/deploy-gate?risk=high`, { headers: auth });
    expect(noService.status).toBe(400);
    expect(((await noService.json()) as { message: string }).message).toMatch(/service query parameter is required, e\.g\. \/v1\/deploy-gate\?service=/);
    // Parameters the document does not name are ignored, as before.
    expect((await fetch(`${h.base}/v1/deploy-gate?service=checkout&utm=x`, { headers: auth })).status).toBe(200);
  });
});
