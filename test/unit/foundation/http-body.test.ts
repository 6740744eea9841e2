import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { jsonDepth, parseJson, parseWith, readRawBody } from '../../../src/http/body.js';
import { Router } from '../../../src/http/router.js';

const request = (body: string, headers: Record<string, string> = {}) =>
  Object.assign(Readable.from([Buffer.from(body)]), { headers }) as never;

describe('request bodies', () => {
  it('reads bodies up to the limit and refuses larger ones with payload_too_large', async () => {
    expect((await readRawBody(request('abc'), 3)).toString()).toBe('abc');
    await expect(readRawBody(request('abcd'), 3)).rejects.toMatchObject({ code: 'payload_too_large' });
    await expect(readRawBody(request('a', { 'content-length': '5000' }), 100)).rejects.toMatchObject({ code: 'payload_too_large' });
  });

  it('measures nesting without being fooled by brackets inside strings', () => {
    expect(jsonDepth('{"a":[1,{"b":2}]}')).toBe(3);
    expect(jsonDepth('{"a":"[[[[{{{{\\"]]"}')).toBe(1);
    expect(() => parseJson('['.repeat(100) + ']'.repeat(100))).toThrow(/nested 100 levels/);
  });

  it('reports malformed JSON and schema violations with the field path', () => {
    expect(() => parseJson('{"a":')).toThrow(/malformed JSON/);
    expect(() => parseJson('')).toThrow(/empty/);
    const schema = z.object({ alerts: z.array(z.object({ status: z.enum(['firing', 'resolved']) })) });
    expect(() => parseWith(schema, { alerts: [{ status: 'firing' }, { status: 'boom' }] })).toThrow(/alerts\.1\.status/);
  });
});

describe('router', () => {
  const router = new Router()
    .add({ method: 'GET', pattern: '/v1/runs/:id', auth: 'read', handler: () => ({ status: 200 }) })
    .add({ method: 'POST', pattern: '/v1/steps/:id/decision', auth: 'write', handler: () => ({ status: 200 }) });

  it('matches parameters and tells apart unknown paths from wrong methods', () => {
    const hit = router.match('GET', '/v1/runs/run%2F1');
    expect(hit && 'params' in hit ? hit.params : undefined).toEqual({ id: 'run/1' });
    expect(router.match('GET', '/v1/steps/s1/decision')).toEqual({ methodNotAllowed: ['POST'] });
    expect(router.match('GET', '/v1/nothing')).toBeUndefined();
  });
});
