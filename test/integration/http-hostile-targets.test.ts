import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { type RunningService, startService } from '../../src/service.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { repoRoot } from '../support/quench-process.js';
import { sendRaw } from '../support/raw-http.js';

// Issue 9 §1: targets that used to throw before the handler's try (URL parsing, route
// decoding) and kill the process. Each must now end in a 400 with the JSON error shape.
describe('hostile request targets', () => {
  let service: RunningService;
  beforeAll(async () => {
    const config = loadConfig({
      QUENCH_DATA_DIR: 'memory://',
      QUENCH_SLO_DIR: 'test/fixtures/none',
      QUENCH_PLAYBOOK_DIR: 'test/fixtures/none',
      QUENCH_WEBHOOK_SECRETS: 'ci=ci-secret-ci-secret-ci-secret-ci',
    });
    service = await startService(config, { logger: silentLogger, port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => service?.stop());

  const request = (line: string) => sendRaw(service.port, `${line}\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);

  it.each([
    ['GET /v1/slos/% HTTP/1.1'],
    ['GET /v1/runs/%E0%A4%A HTTP/1.1'],
    ['POST /webhooks/generic/%ZZ HTTP/1.1'],
    ['GET http://[/ HTTP/1.1'],
    ['GET /v1/runs/%00 HTTP/1.1'],
    ['GET /v1/runs/%C0%AF HTTP/1.1'],
    ['GET http://%zz/healthz HTTP/1.1'],
  ])('%s → 400 in the JSON error shape, and the service keeps serving', async (line) => {
    const res = await request(line);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'bad_request', message: expect.stringMatching(/malformed|control/) });
    expect((await fetch(`http://127.0.0.1:${service.port}/healthz`)).status).toBe(200);
  });

  it('answers requests Node refuses to parse in the JSON shape too (bad request line, unknown method, CONNECT)', async () => {
    const garbage = await sendRaw(service.port, 'GET /healthz HTTX/1.1\r\nHost: x\r\n\r\n');
    expect(garbage.status).toBe(400);
    expect(JSON.parse(garbage.body)).toMatchObject({ error: 'bad_request' });
    const unknown = await sendRaw(service.port, 'FROB /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(unknown.status).toBe(405);
    expect(JSON.parse(unknown.body)).toMatchObject({ error: 'method_not_allowed' });
    const connect = await sendRaw(service.port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    expect(connect.status).toBe(405);
    expect((await fetch(`http://127.0.0.1:${service.port}/healthz`)).status).toBe(200);
  });
});

describe('process guards', () => {
  it('log an unhandled rejection and an uncaught exception, and the process keeps running', async () => {
    const script = `
      import { installProcessGuards } from './dist/http/process-guards.js';
      const lines = [];
      const logger = { error: (o, msg) => lines.push(msg + ': ' + (o.err?.message ?? o.err)) };
      installProcessGuards(logger);
      Promise.reject(new Error('one request failed'));
      setTimeout(() => { throw new Error('thrown from a timer'); }, 10);
      setTimeout(() => { console.log(JSON.stringify(lines)); console.log('still alive'); }, 100);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: repoRoot });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(0);
    expect(out).toMatch(/unhandled promise rejection.*one request failed/);
    expect(out).toMatch(/uncaught exception.*thrown from a timer/);
    expect(out).toMatch(/still alive/);
  });
});
