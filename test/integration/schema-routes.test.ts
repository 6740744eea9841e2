import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenAuthenticator } from '../../src/http/auth.js';
import { Router } from '../../src/http/router.js';
import { createHttpServer, type HttpServer } from '../../src/http/server.js';
import { addSchemaRoutes } from '../../src/playbooks/schema-routes.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';

/** Issue 15: the committed schemas are served at /schemas/playbook.json and /schemas/slo.json, without a token. */
describe('GET /schemas/*.json', () => {
  let http: HttpServer;
  let url: string;
  beforeAll(async () => {
    const router = new Router();
    addSchemaRoutes(router);
    http = createHttpServer({ router, auth: new TokenAuthenticator(new Map()), logger: silentLogger, metrics: createMetrics() });
    url = `http://127.0.0.1:${await http.listen(0, '127.0.0.1')}`;
  });
  afterAll(async () => http?.close(100));

  it.each(['playbook', 'slo'])('serves %s.json equal to schemas/%s.json', async (kind) => {
    const res = await fetch(`${url}/schemas/${kind}.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(await res.json()).toEqual(JSON.parse(readFileSync(join(process.cwd(), 'schemas', `${kind}.json`), 'utf8')));
  });
  it('answers 404 for another kind', async () => {
    expect((await fetch(`${url}/schemas/nope.json`)).status).toBe(404);
  });
});
