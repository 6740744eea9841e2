import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { type RunningService, startService } from '../../src/service.js';
import { silentLogger } from '../../src/telemetry/logger.js';

// Issue 9 §5: without API tokens the service listens on loopback only; with tokens every
// /v1 route needs one, read-only tokens read and never decide, /metrics stays open.
const FULL = 'full-token-0123456789abcdef0123456789';
const READ = 'read-token-0123456789abcdef0123456789';
const dirs = { QUENCH_DATA_DIR: 'memory://', QUENCH_SLO_DIR: 'test/fixtures/none', QUENCH_PLAYBOOK_DIR: 'test/fixtures/none' };

let service: RunningService | undefined;
afterEach(async () => {
  await service?.stop();
  service = undefined;
});

/** Whether a TCP connection to host:port succeeds (127.0.0.2 is loopback too, but not 127.0.0.1). */
const reachable = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

describe('listen address and /v1 authentication', () => {
  it('without QUENCH_API_TOKENS listens on 127.0.0.1 only, and says so', async () => {
    const warnings: string[] = [];
    const logger = silentLogger.child({});
    logger.warn = ((_obj: unknown, msg?: string) => void warnings.push(String(msg ?? _obj))) as typeof logger.warn;
    // Capabilities log through child loggers: capture theirs too.
    logger.child = (() => logger) as unknown as typeof logger.child;
    service = await startService(loadConfig(dirs), { logger, port: 0 });
    expect(await reachable('127.0.0.1', service.port)).toBe(true);
    expect(await reachable('127.0.0.2', service.port)).toBe(false);
    expect(warnings.join('\n')).toMatch(/QUENCH_API_TOKENS is unset: listening on 127\.0\.0\.1 only/);
    // Issue 9 §4: an Alertmanager endpoint without credentials is said out loud at start-up.
    expect(warnings.join('\n')).toMatch(/POST \/webhooks\/alertmanager takes unauthenticated requests/);
  });

  it('with tokens, every /v1 route needs one; read-only tokens read but cannot decide; /metrics stays open', async () => {
    service = await startService(loadConfig({ ...dirs, QUENCH_API_TOKENS: `alice=${FULL},grafana:read=${READ}` }), {
      logger: silentLogger,
      port: 0,
      host: '127.0.0.1',
    });
    const base = `http://127.0.0.1:${service.port}`;
    const reads = ['/v1/slos', '/v1/slos/none', '/v1/runs', '/v1/runs/none', '/v1/audit'];
    for (const path of reads) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(401);
      expect([200, 404], path).toContain((await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${READ}` } })).status);
    }
    const decide = (token: string) =>
      fetch(`${base}/v1/steps/none/decision`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ decision: 'approve' }),
      });
    const refused = await decide(READ);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: 'forbidden', message: expect.stringMatching(/read-only/) });
    expect([404, 409]).toContain((await decide(FULL)).status);
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
  });
});
