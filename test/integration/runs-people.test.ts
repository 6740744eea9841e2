import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config/load.js';
import { type RunningService, startService } from '../../src/service.js';
import { silentLogger } from '../../src/telemetry/logger.js';

const tokens = { alice: 'alice-token-0123456789abcdefghijklmnop', bob: 'bob-token-0123456789abcdefghijklmnopqr' };

/** A local target: records every request; `/slow` answers only when the test releases it. */
function target() {
  const seen: string[] = [];
  const held: ServerResponse[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    seen.push(`${req.method} ${req.url}`);
    req.resume();
    if (req.url === '/slow') held.push(res);
    else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  return {
    seen,
    held,
    async listen() {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return (server.address() as AddressInfo).port;
    },
    release() {
      for (const res of held.splice(0)) res.writeHead(200, { 'content-type': 'application/json' }).end('{"late":true}');
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const slowPlaybook = (port: number) => `apiVersion: quench/v1
kind: Playbook
metadata: { name: slow, owner: team-shop }
inputs:
  replicas: { type: integer, required: true }
steps:
  - id: call
    kind: action
    action: http.request
    params: { url: "http://127.0.0.1:${port}/slow", body: { replicas: "\${{ inputs.replicas }}" } }
    timeout: 5m
  - id: ask
    kind: human
    type: approve
    prompt: Proceed?
`;

const askPlaybook = `apiVersion: quench/v1
kind: Playbook
metadata: { name: ask-first, owner: team-shop }
steps:
  - id: ask
    kind: human
    type: approve
    prompt: Proceed?
  - id: after
    kind: action
    action: log
    params: { message: approved }
`;

/** A state-changing step with compensation, then a step the drill makes fail. */
const sagaPlaybook = (port: number) => `apiVersion: quench/v1
kind: Playbook
metadata: { name: saga, owner: team-shop }
steps:
  - id: change
    kind: action
    action: http.request
    params: { url: "http://127.0.0.1:${port}/change" }
    compensate:
      action: http.request
      params: { url: "http://127.0.0.1:${port}/undo" }
  - id: verify
    kind: action
    action: http.request
    params: { url: "http://127.0.0.1:${port}/verify" }
    onFailure: compensate
`;

/** A drillSafe freeze: the author says it may run in drills, but the real gate must never see a drill. */
const freezePlaybook = `apiVersion: quench/v1
kind: Playbook
metadata: { name: freeze-shop, owner: team-shop }
steps:
  - id: freeze
    kind: action
    action: deploy.freeze
    params: { services: [shop], reason: "remediation", until: 1h }
    drillSafe: true
`;

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 40));
  }
}

describe('runs started and cancelled by people (in-process service on PGlite)', { timeout: 120_000 }, () => {
  let service: RunningService | undefined;
  let dir: string | undefined;
  let t: ReturnType<typeof target> | undefined;
  afterEach(async () => {
    t?.release();
    await service?.stop();
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function boot(extraPlaybooks: Record<string, string> = {}) {
    t = target();
    const port = await t.listen();
    dir = mkdtempSync(join(tmpdir(), 'quench-runs-people-'));
    const playbooks = join(dir, 'playbooks');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(playbooks);
    writeFileSync(join(playbooks, 'slow.yaml'), slowPlaybook(port));
    writeFileSync(join(playbooks, 'ask.yaml'), askPlaybook);
    writeFileSync(join(playbooks, 'saga.yaml'), sagaPlaybook(port));
    writeFileSync(join(playbooks, 'freeze.yaml'), freezePlaybook);
    for (const [name, text] of Object.entries(extraPlaybooks)) writeFileSync(join(playbooks, `${name}.yaml`), text);
    const config = loadConfig({
      QUENCH_DATA_DIR: join(dir, 'data'),
      QUENCH_PLAYBOOK_DIR: playbooks,
      QUENCH_SLO_DIR: dir,
      QUENCH_API_TOKENS: `alice=${tokens.alice},bob=${tokens.bob}`,
      QUENCH_HTTP_ALLOWLIST: '127.0.0.1:*',
      QUENCH_ENGINE_POLL_MS: '50',
    });
    service = await startService(config, { logger: silentLogger, port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${service.port}`;
    const api = async (method: string, path: string, token?: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- assertions read JSON bodies of several shapes
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    };
    const cli = async (args: string[], user: keyof typeof tokens) => {
      let stdout = '';
      let stderr = '';
      const code = await runCli(args, {
        stdout: (s) => void (stdout += s),
        stderr: (s) => void (stderr += s),
        env: { QUENCH_URL: base, QUENCH_TOKEN: tokens[user] },
      });
      return { code, stdout, stderr };
    };
    return { base, api, cli };
  }

  const auditOf = async (runId: string) =>
    (await service!.ctx.audit.page({ limit: 1000 })).filter((e) => e.subject.id === runId);

  it('starts a run over /v1 as the token user, type-checks inputs, and refuses bad requests with JSON errors', async () => {
    const { api } = await boot();
    expect((await api('POST', '/v1/runs', undefined, { playbook: 'slow', inputs: { replicas: 3 } })).status).toBe(401);
    const unknown = await api('POST', '/v1/runs', tokens.alice, { playbook: 'nope' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toMatch(/no playbook named 'nope'; loaded: ask-first, freeze-shop, saga, slow/);
    const mistyped = await api('POST', '/v1/runs', tokens.alice, { playbook: 'slow', inputs: { replicas: 'three' } });
    expect(mistyped.status).toBe(400);
    expect(mistyped.body.message).toMatch(/input 'replicas': expected an integer/);
    expect((await api('POST', '/v1/runs', tokens.alice, { playbook: 'slow' })).body.message).toMatch(/input 'replicas' is required/);
    expect((await api('POST', '/v1/runs', tokens.alice, { playbook: 'slow', inputs: { replicas: 2 }, by: 'mallory' })).status).toBe(400);
    expect(await service!.ctx.ports.engine.listRuns()).toEqual([]);

    const ok = await api('POST', '/v1/runs', tokens.alice, { playbook: 'slow', inputs: { replicas: 3 } });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ playbook: 'slow', drill: false, startedBy: 'user:alice' });
    const run = await service!.ctx.ports.engine.getRun(ok.body.runId);
    expect(run).toMatchObject({ startedBy: 'user:alice', inputs: { replicas: 3 }, trigger: { source: 'manual', labels: { requestedBy: 'alice', via: 'api' } } });
    const started = (await auditOf(ok.body.runId)).find((e) => e.action === 'run.started');
    expect(started?.actor).toMatchObject({ type: 'user', id: 'alice' });
  });

  for (const path of ['api', 'cli'] as const) {
    it(`cancels a person's run mid-step via ${path}: the in-flight result is discarded and the cancellation audited`, async () => {
      const { api, cli } = await boot();
      let runId: string;
      if (path === 'cli') {
        const started = await cli(['runs', 'start', 'slow', '--input', 'replicas=4', '--json'], 'alice');
        expect(started.stderr).toBe('');
        expect(started.code).toBe(0);
        runId = (JSON.parse(started.stdout) as { runId: string }).runId;
        expect((await service!.ctx.ports.engine.getRun(runId))?.inputs).toEqual({ replicas: 4 });
      } else runId = (await api('POST', '/v1/runs', tokens.alice, { playbook: 'slow', inputs: { replicas: 4 } })).body.runId;
      // The action is in flight: the target holds its request.
      await until('the in-flight call', async () => (t!.held.length > 0 ? true : undefined));

      if (path === 'cli') {
        expect((await cli(['runs', 'cancel', runId], 'bob')).code).not.toBe(0);
        const cancelled = await cli(['runs', 'cancel', runId, '--reason', 'wrong service'], 'bob');
        expect(cancelled.stderr).toBe('');
        expect(cancelled.stdout).toBe(`run ${runId} cancelled by bob: wrong service\n`);
      } else {
        expect((await api('POST', `/v1/runs/${runId}/cancel`, tokens.bob, {})).status).toBe(400);
        const res = await api('POST', `/v1/runs/${runId}/cancel`, tokens.bob, { reason: 'wrong service' });
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ runId, state: 'cancelled', by: 'bob', reason: 'wrong service' });
      }
      expect((await api('POST', `/v1/runs/${runId}/cancel`, tokens.bob, { reason: 'again' })).status).toBe(409);

      // The late answer arrives after the cancellation: it must not be recorded.
      t!.release();
      const attempt = await until('the in-flight attempt to close', async () => {
        const a = (await service!.ctx.ports.engine.getRun(runId))!.steps.find((s) => s.key === 'call')!.attempts[0];
        return a && a.status !== 'running' ? a : undefined;
      });
      await new Promise((r) => setTimeout(r, 300));
      const run = (await service!.ctx.ports.engine.getRun(runId))!;
      expect(run.state).toBe('cancelled');
      const call = run.steps.find((s) => s.key === 'call')!;
      expect(call.status).toBe('cancelled');
      expect(call.output).toBeNull();
      expect(attempt.status).toBe('cancelled');
      expect(run.steps.map((s) => s.key)).toEqual(['call']); // the human step after it never started
      expect(run.error).toMatchObject({ code: 'cancelled', message: 'wrong service', by: 'bob' });
      const entries = await auditOf(runId);
      const cancelled = entries.find((e) => e.action === 'run.cancelled');
      expect(cancelled?.actor).toMatchObject({ type: 'user', id: 'bob' });
      expect(JSON.stringify(cancelled?.data)).toContain('wrong service');
    });
  }

  it('the person who started a run may not approve its human step, through /v1 and the CLI', async () => {
    const { api, cli } = await boot();
    const { runId } = (await api('POST', '/v1/runs', tokens.alice, { playbook: 'ask-first' })).body as { runId: string };
    const stepId = await until('the human step', async () =>
      (await service!.ctx.ports.engine.getRun(runId))!.steps.find((s) => s.key === 'ask' && s.status === 'waiting')?.id,
    );
    const viaApi = await api('POST', `/v1/steps/${stepId}/decision`, tokens.alice, { decision: 'approve' });
    expect(viaApi.status).toBe(403);
    const viaCli = await cli(['approve', stepId], 'alice');
    expect(viaCli.code).not.toBe(0);
    expect(viaCli.stderr).toMatch(/started|own run/i);
    expect((await api('POST', `/v1/steps/${stepId}/decision`, tokens.bob, { decision: 'approve' })).status).toBe(200);
  });

  it('the starter may still stop their own run by rejecting, as in Slack (one rule on every path)', async () => {
    const { api } = await boot();
    const { runId } = (await api('POST', '/v1/runs', tokens.alice, { playbook: 'ask-first' })).body as { runId: string };
    const stepId = await until('the human step', async () =>
      (await service!.ctx.ports.engine.getRun(runId))!.steps.find((s) => s.key === 'ask' && s.status === 'waiting')?.id,
    );
    expect((await api('POST', `/v1/steps/${stepId}/decision`, tokens.alice, { decision: 'approve' })).status).toBe(403);
    const rejected = await api('POST', `/v1/steps/${stepId}/decision`, tokens.alice, { decision: 'reject', reason: 'wrong service' });
    expect(rejected.status).toBe(200);
    const step = (await service!.ctx.ports.engine.getRun(runId))!.steps.find((s) => s.id === stepId)!;
    expect(step.status).not.toBe('waiting');
  });

  it('a drill with a failing step compensates, simulates every non-drillSafe call, and is marked DRILL', async () => {
    const { api, cli } = await boot();
    const bad = await cli(['drill', 'saga', '--fail', 'nosuch'], 'alice');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/fail= names no step of 'saga': nosuch; its steps: change, verify/);
    const started = await cli(['drill', 'saga', '--fail', 'verify'], 'alice');
    expect(started.stderr).toBe('');
    const runId = /run (\S+) of saga/.exec(started.stdout)![1]!;
    expect(started.stdout).toMatch(/^DRILL run /);
    const run = await until('the drill to end', async () => {
      const r = (await service!.ctx.ports.engine.getRun(runId))!;
      return ['compensated', 'failed', 'succeeded', 'compensation_failed'].includes(r.state) ? r : undefined;
    });
    expect(run.state).toBe('compensated');
    expect(run.drill).toEqual({ fail: ['verify'] });
    expect(run.steps.find((s) => s.key === 'change')?.output).toMatchObject({ simulated: true });
    expect(run.steps.find((s) => s.key === 'verify')?.error).toMatchObject({ code: 'drill_failure' });
    expect(run.steps.find((s) => s.key === 'change/compensate')?.status).toBe('succeeded');
    expect(t!.seen).toEqual([]);
    const listed = (await api('GET', '/v1/runs', tokens.bob)).body.runs as Array<{ id: string; drill: boolean }>;
    expect(listed.find((r) => r.id === runId)?.drill).toBe(true);
    const started2 = (await auditOf(runId)).find((e) => e.action === 'run.started');
    expect(started2?.data).toMatchObject({ drill: { fail: ['verify'] } });
    const list = await cli(['runs', 'list'], 'bob');
    expect(list.stdout).toMatch(new RegExp(`${runId}.*\\(drill\\)`));

    // The scorecard: stored once, served over /v1, shown by `quench runs show`, audited.
    const card = await until('the scorecard', async () => {
      const res = await api('GET', `/v1/runs/${runId}/scorecard`, tokens.bob);
      return res.status === 200 ? res.body : undefined;
    });
    expect(card).toMatchObject({ runId, playbook: 'saga', finalState: 'compensated', failuresInjected: ['verify'], compensations: [{ step: 'change', succeeded: true }] });
    expect(card.gaps).toEqual([expect.objectContaining({ kind: 'no_compensation', step: 'verify' })]);
    const shown = await cli(['runs', 'show', runId], 'bob');
    expect(shown.stdout).toMatch(/^DRILL run /);
    expect(shown.stdout).toContain('DRILL scorecard: saga ended compensated');
    expect(shown.stdout).toMatch(/failures injected: verify/);
    expect(shown.stdout).toMatch(/compensations: change succeeded/);
    await new Promise((r) => setTimeout(r, 600));
    expect((await auditOf(runId)).filter((e) => e.action === 'drill.scored')).toHaveLength(1);
    expect((await api('GET', `/v1/runs/${runId}/scorecard`, undefined)).status).toBe(401);
  });

  it('a drill re-driven from the dead-letter queue is scored again when it ends again', async () => {
    const { api, cli } = await boot({
      probe: `apiVersion: quench/v1
kind: Playbook
metadata: { name: probe, owner: team-shop }
steps:
  - id: check
    kind: action
    action: log
    params: { message: checking }
    retry: { maxAttempts: 2, initialDelay: 10ms, maxDelay: 10ms }
`,
    });
    const started = await cli(['drill', 'probe', '--fail', 'check'], 'alice');
    const runId = /run (\S+) of probe/.exec(started.stdout)![1]!;
    const scored = (atLeast: number) =>
      until(`scorecard ${atLeast}`, async () => {
        const res = await api('GET', `/v1/runs/${runId}/scorecard`, tokens.bob);
        const attempts = res.status === 200 ? (res.body.steps as Array<{ key: string; attempts: number }>).find((s) => s.key === 'check')?.attempts : undefined;
        return attempts !== undefined && attempts >= atLeast ? res.body : undefined;
      });
    const first = await scored(2);
    expect(first).toMatchObject({ finalState: 'failed', failuresInjected: ['check'] });

    // The drill's failure is injected on every attempt: re-driven, it fails again, and the run ends
    // a second time with two more attempts. The stored scorecard follows that end, not the first.
    const letter = await until('the dead letter', async () =>
      ((await api('GET', '/v1/dlq', tokens.bob)).body.deadLetters as Array<{ id: string; runId: string }>).find((d) => d.runId === runId),
    );
    expect((await api('POST', `/v1/dlq/${letter.id}/retry`, tokens.bob)).status).toBe(200);
    const again = await scored(4);
    expect(again).toMatchObject({ finalState: 'failed' });
    expect(again.retried).toEqual(['check']);
    const audits = (await auditOf(runId)).filter((e) => e.action === 'drill.scored');
    expect(audits.map((e) => (e.data as { rescored?: boolean }).rescored ?? false)).toEqual([false, true]);
    // Scoring again changes nothing once the scorecard follows the latest end.
    await new Promise((r) => setTimeout(r, 600));
    expect((await auditOf(runId)).filter((e) => e.action === 'drill.scored')).toHaveLength(2);
  });

  it('a drill never touches the real deploy gate, even on a drillSafe deploy.freeze step; a real run does', async () => {
    const { api, cli } = await boot();
    const ended = (runId: string) =>
      until('the run to end', async () => {
        const r = (await service!.ctx.ports.engine.getRun(runId))!;
        return r.endedAt ? r : undefined;
      });
    const drill = JSON.parse((await cli(['drill', 'freeze-shop', '--json'], 'alice')).stdout) as { runId: string; drill: boolean };
    expect(drill.drill).toBe(true);
    const drillRun = await ended(drill.runId);
    expect(drillRun.state).toBe('succeeded');
    expect(drillRun.steps[0]?.output).toMatchObject({ simulated: true, action: 'deploy.freeze', wouldHave: { services: ['shop'], reason: 'remediation' } });
    expect(((await api('GET', '/v1/freezes', tokens.bob)).body.freezes as unknown[]).length).toBe(0);

    // The same playbook for real reaches the gate (which refuses 'shop': no SLO owns it here):
    // the guard, not the playbook, kept the drill away from the gate.
    const real = (await api('POST', '/v1/runs', tokens.alice, { playbook: 'freeze-shop' })).body as { runId: string };
    const realRun = await ended(real.runId);
    expect(realRun.steps.find((s) => s.key === 'freeze')?.error).toMatchObject({ code: expect.stringMatching(/^gate_/) });
  });
});
