import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { type RunningService, startService } from '../../src/service.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { childEnv, repoRoot } from '../support/quench-process.js';

/**
 * The CI/CD examples in docs/examples/gate, driven as the tools would drive them: the Flagger
 * webhook's URL and metadata, the Argo Rollouts web metric's URL, headers, jsonPath and success
 * condition, and the GitHub Actions step's shell script, each read from the example file.
 */
const examples = join(repoRoot, 'docs', 'examples', 'gate');
const TOKEN = 'ci-token-0123456789abcdefghijklmnopqrstu';
const slo = `apiVersion: quench/v1
kind: SLO
metadata: { name: checkout-availability }
service: checkout
objective: 99.9
sli: { synthetic: { requestsPerSecond: 10, script: [{ at: "0", errorRatio: 0 }] } }
`;

describe('deploy gate examples in docs/', () => {
  let dir: string;
  let service: RunningService;
  let base: string;
  let freezeId: string | undefined;

  /** The example's in-cluster origin, pointed at the test service. */
  const local = (url: string) => url.replace(/^http:\/\/[^/]+/, base);
  const setFrozen = async (frozen: boolean) => {
    if (frozen) {
      const res = await fetch(`${base}/v1/freezes`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ services: ['checkout'], reason: 'release freeze', until: '1h' }),
      });
      freezeId = ((await res.json()) as { id: string }).id;
    } else {
      await fetch(`${base}/v1/freezes/${freezeId}`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
    }
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'quench-gate-examples-'));
    writeFileSync(join(dir, 'checkout.yaml'), slo);
    const config = loadConfig({
      QUENCH_DATA_DIR: 'memory://',
      QUENCH_SLO_DIR: dir,
      QUENCH_PLAYBOOK_DIR: dir,
      QUENCH_SLO_EVAL_CRON: '0 0 1 1 *',
      QUENCH_API_TOKENS: `ci=${TOKEN}`,
    });
    service = await startService(config, { logger: silentLogger, port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${service.port}`;
  });
  afterAll(async () => {
    await service?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('Flagger confirm-rollout webhook: 200 proceeds, 403 halts while frozen', async () => {
    const canary = parse(readFileSync(join(examples, 'flagger-canary.yaml'), 'utf8'));
    const hook = canary.spec.analysis.webhooks.find((w: { type: string }) => w.type === 'confirm-rollout');
    expect(hook).toBeDefined();
    // Flagger's payload (docs.flagger.app/usage/webhooks), with the webhook's metadata.
    const call = (token: string) =>
      fetch(local(hook.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          name: canary.metadata.name,
          namespace: canary.metadata.namespace,
          phase: 'Progressing',
          checksum: 'abc123',
          metadata: { ...hook.metadata, token },
        }),
      });
    expect((await call(TOKEN)).status).toBe(200);
    await setFrozen(true);
    const halted = await call(TOKEN);
    expect(halted.status).toBe(403);
    expect(JSON.stringify(await halted.json())).toContain('release freeze');
    expect((await call('not-a-token')).status).toBe(401);
    await setFrozen(false);
    expect((await call(TOKEN)).status).toBe(200);
  });

  it('Argo Rollouts web metric: the JSON field passes or fails the success condition', async () => {
    const template = parse(readFileSync(join(examples, 'argo-analysis-template.yaml'), 'utf8'));
    const metric = template.spec.metrics[0];
    const web = metric.provider.web;
    const args: Record<string, string> = { service: 'checkout', change: 'abc123', 'quench-token': TOKEN };
    const fill = (text: string) => text.replace(/\{\{args\.([\w-]+)\}\}/g, (_, name: string) => args[name]!);
    // The two forms this template uses: jsonPath `{$.field}` and `result == true`.
    const field = /^\{\$\.(\w+)\}$/.exec(web.jsonPath)![1]!;
    expect(metric.successCondition).toBe('result == true');
    const measure = async () => {
      const res = await fetch(local(fill(web.url)), {
        headers: Object.fromEntries(web.headers.map((h: { key: string; value: string }) => [h.key, fill(h.value)])),
      });
      expect(res.status).toBe(200); // any other status is an Argo measurement error, not a verdict
      const result = ((await res.json()) as Record<string, unknown>)[field];
      return result === true;
    };
    expect(await measure()).toBe(true);
    await setFrozen(true);
    expect(await measure()).toBe(false);
    await setFrozen(false);
  });

  it('GitHub Actions step: the job goes on when allowed and stops (exit 3) when frozen', async () => {
    const workflow = parse(readFileSync(join(examples, 'github-actions-deploy.yml'), 'utf8'));
    const step = workflow.jobs.deploy.steps.find((s: { name?: string }) => s.name === "Ask Quench's deploy gate");
    expect(Object.keys(step.env).sort()).toEqual(['QUENCH_TOKEN', 'QUENCH_URL']);
    // `npx --yes quench …` resolves to this checkout's CLI, as it would to the published package.
    const bin = mkdtempSync(join(tmpdir(), 'quench-npx-'));
    writeFileSync(
      join(bin, 'npx'),
      `#!/bin/sh\n[ "$1" = "--yes" ] && [ "$2" = "quench" ] || { echo "unexpected npx $*" >&2; exit 127; }\nshift 2\nexec "${process.execPath}" "${join(repoRoot, 'bin', 'quench.js')}" "$@"\n`,
    );
    chmodSync(join(bin, 'npx'), 0o755);
    const runStep = () =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const env = childEnv({ QUENCH_URL: base, QUENCH_TOKEN: TOKEN, GITHUB_SHA: 'abc123', PATH: `${bin}:${process.env.PATH}` });
        const child = spawn('bash', ['-e', '-c', step.run], { env });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        child.on('exit', (code) => resolve({ code, out }));
      });
    try {
      const open = await runStep();
      expect(open).toMatchObject({ code: 0 });
      expect(open.out).toContain('allowed: checkout');
      await setFrozen(true);
      const frozen = await runStep();
      expect(frozen.code).toBe(3);
      expect(frozen.out).toContain('release freeze');
      const blocked = (await service.ctx.audit.page({ limit: 100 })).filter((e) => e.action === 'gate.blocked');
      expect(blocked.at(-1)!.data).toMatchObject({ change: 'abc123' });
      await setFrozen(false);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
