import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { ActionContext } from '../../../src/actions/action.js';
import { argvAllowed, hostAllowed } from '../../../src/actions/allowlist.js';
import { builtinActions } from '../../../src/actions/builtins.js';
import { execAction } from '../../../src/actions/exec.js';
import { httpRequestAction } from '../../../src/actions/http-request.js';
import { sloCheckAction } from '../../../src/actions/slo-check.js';
import { loadConfig } from '../../../src/config/load.js';
import { ManualClock } from '../../../src/core/clock.js';
import type { StepError } from '../../../src/engine/core/step-error.js';
import { silentLogger } from '../../../src/telemetry/logger.js';

function ctx(env: Record<string, string>, extra: Partial<ActionContext> = {}): ActionContext {
  return {
    runId: 'run-1',
    stepKey: 'step',
    attempt: 2,
    idempotencyKey: 'run-1:step:2',
    correlationId: 'corr-1',
    signal: new AbortController().signal,
    clock: new ManualClock(),
    logger: silentLogger,
    config: loadConfig(env),
    ports: {},
    drill: false,
    ...extra,
  };
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: StepError) => ({ code: e.code, retryable: e.retryable }),
  );

describe('allowlists', () => {
  it('matches hosts, host:port and subdomain wildcards', () => {
    const list = ['api.example.com', '127.0.0.1:8080', '*.internal'];
    expect(hostAllowed(new URL('https://api.example.com/x'), list)).toBe(true);
    expect(hostAllowed(new URL('https://evil.com/api.example.com'), list)).toBe(false);
    expect(hostAllowed(new URL('http://127.0.0.1:8080/'), list)).toBe(true);
    expect(hostAllowed(new URL('http://127.0.0.1:9090/'), list)).toBe(false);
    expect(hostAllowed(new URL('http://db.internal/'), list)).toBe(true);
    expect(hostAllowed(new URL('http://internal/'), list)).toBe(false);
    expect(hostAllowed(new URL('http://anything/'), [])).toBe(false);
  });

  it('matches argv prefixes word by word', () => {
    expect(argvAllowed(['kubectl', 'rollout', 'restart', 'x'], ['kubectl rollout'])).toBe(true);
    expect(argvAllowed(['kubectl', 'delete', 'ns'], ['kubectl rollout'])).toBe(false);
    expect(argvAllowed(['kubectl-rollout'], ['kubectl'])).toBe(false);
  });
});

describe('built-in actions', () => {
  it('registers each built-in once, with a parameter schema', () => {
    const registry = builtinActions();
    expect(registry.names()).toEqual(['exec', 'http.request', 'log', 'slo.check', 'wait']);
    expect(() => registry.register(execAction)).toThrow(/already registered/);
  });

  it('http.request sends the idempotency and correlation headers and classifies answers', async () => {
    const seen: Array<Record<string, unknown>> = [];
    const statuses = [200, 503, 404];
    const server = createServer((req, res) => {
      seen.push({ key: req.headers['idempotency-key'], corr: req.headers['x-correlation-id'], method: req.method });
      res.writeHead(statuses.shift()!, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    try {
      const c = ctx({ QUENCH_HTTP_ALLOWLIST: '127.0.0.1:*' });
      const params = httpRequestAction.params.parse({ url, body: { a: 1 } });
      expect(await httpRequestAction.run(params, c)).toEqual({ status: 200, body: { ok: true }, truncated: false });
      expect(await failure(httpRequestAction.run(params, c))).toEqual({ code: 'http_503', retryable: true });
      expect(await failure(httpRequestAction.run(params, c))).toEqual({ code: 'http_404', retryable: false });
      expect(seen[0]).toEqual({ key: 'run-1:step:2', corr: 'corr-1', method: 'POST' });
      expect(await failure(httpRequestAction.run(params, ctx({ QUENCH_HTTP_ALLOWLIST: 'other.host' })))).toEqual({
        code: 'host_not_allowed',
        retryable: false,
      });
      expect(httpRequestAction.target!(params)).toMatch(/^http:127\.0\.0\.1:\d+$/);
    } finally {
      server.close();
    }
  });

  it('exec runs an allowlisted argv without a shell, captures output, and kills on abort', async () => {
    const c = ctx({ QUENCH_EXEC_ALLOWLIST: process.execPath });
    const script =
      'process.stdout.write(process.argv[1] + " " + process.env.QUENCH_IDEMPOTENCY_KEY + " " + (process.env.QUENCH_API_TOKENS ?? "none"))';
    const ok = await execAction.run(execAction.params.parse({ argv: [process.execPath, '-e', script, '$(rm -rf /)'] }), c);
    expect(ok).toMatchObject({ exitCode: 0, stdout: '$(rm -rf /) run-1:step:2 none' });
    expect(await failure(execAction.run(execAction.params.parse({ argv: [process.execPath, '-e', 'process.exit(3)'] }), c))).toEqual({
      code: 'exit_3',
      retryable: true,
    });
    expect(await failure(execAction.run(execAction.params.parse({ argv: ['sh', '-c', 'true'] }), c))).toEqual({
      code: 'command_not_allowed',
      retryable: false,
    });
    const abort = new AbortController();
    const slow = execAction.run(execAction.params.parse({ argv: [process.execPath, '-e', 'setTimeout(() => {}, 60000)'] }), {
      ...c,
      signal: abort.signal,
    });
    abort.abort('attempt timed out');
    expect(await failure(slow)).toEqual({ code: 'timeout', retryable: true });
  });

  it('slo.check fails clearly without the SLO engine and reads it when present', async () => {
    const params = sloCheckAction.params.parse({ slo: 'checkout-availability', minBudgetRemaining: 0.2 });
    expect(await failure(sloCheckAction.run(params, ctx({})))).toEqual({ code: 'slo_unavailable', retryable: false });
    const status = { name: 'checkout-availability', errorBudget: { remaining: 0.1 } };
    const slo = { running: true, get: (n: string) => (n === status.name ? status : undefined), list: () => [status] };
    expect(await failure(sloCheckAction.run(params, ctx({}, { ports: { slo } })))).toEqual({ code: 'slo_budget_low', retryable: false });
    status.errorBudget.remaining = 0.5;
    expect(await sloCheckAction.run(params, ctx({}, { ports: { slo } }))).toBe(status);
  });
});
