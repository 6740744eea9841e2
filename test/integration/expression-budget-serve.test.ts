import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { childEnv, type ServeProcess, startServe } from '../support/quench-process.js';

/**
 * Issue 9 §3 acceptance: an adversarial signed generic event (48 KB) against a playbook whose
 * condition nests two comprehensions over the payload list held `quench serve`'s event loop for
 * 25.6 s. Against a real `quench serve` child: while such events are evaluated, /healthz keeps
 * answering, and the steps fail with coded errors. The promise is 100 ms on a quiet machine
 * (an evaluation stops after ~11 ms of CPU, measured by hand; test/unit/playbooks/budget.test.ts
 * pins the cost); the machines running the tests are shared and may be loaded (a
 * load average of 25 on two cores stretched storing the two 48 KB events alone, with a trivial
 * condition, to a worst /healthz of 0.7 s), so this test bounds the worst answer at 2.5 s and
 * prints the measured figures. The unfixed service blocked 25.6 s on an idle machine.
 */
const SECRET = 'adversarial-source-secret';
const TOKEN = 'budget-test-token-0123456789abcdef0123456789';
const CONDITION = 'trigger.payload.items.exists(x, trigger.payload.items.exists(y, x == y + 1000000))';

const playbook = `apiVersion: quench/v1
kind: Playbook
metadata: { name: adversarial-budget, owner: team-test }
triggers:
  - source: "generic:adv"
    type: adversarial.test
steps:
  - id: judge
    kind: action
    action: log
    when: "${CONDITION}"
    params: { message: "never reached" }
`;

let serve: ServeProcess | undefined;
afterEach(() => serve?.kill('SIGKILL'));

function signed(body: string): Record<string, string> {
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex');
  return { 'content-type': 'application/json', 'x-quench-timestamp': ts, 'x-quench-signature': `sha256=${sig}` };
}

/** A 48 KB event: `count` list items, padded with a filler field to the size. */
function event(id: string, count: number): string {
  const base = { id, key: id, type: 'adversarial.test', summary: 'adversarial payload', items: Array.from({ length: count }, () => 1) };
  const size = JSON.stringify({ ...base, filler: '' }).length;
  const body = JSON.stringify({ ...base, filler: 'x'.repeat(Math.max(0, 48 * 1024 - size)) });
  return body;
}

interface StepView {
  stepKey?: string;
  key?: string;
  status: string;
  error?: { code?: string; message?: string } | null;
}

describe('expression budget against quench serve', () => {
  it('keeps /healthz answering while adversarial payloads are evaluated, and fails the steps with coded errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quench-budget-'));
    const playbooks = join(dir, 'playbooks');
    mkdirSync(playbooks);
    mkdirSync(join(dir, 'slo'));
    writeFileSync(join(playbooks, 'adversarial.yaml'), playbook);
    serve = await startServe(
      childEnv({
        QUENCH_DATA_DIR: join(dir, 'data'),
        QUENCH_PLAYBOOK_DIR: playbooks,
        QUENCH_SLO_DIR: join(dir, 'slo'),
        QUENCH_WEBHOOK_SECRETS: `adv=${SECRET}`,
        QUENCH_API_TOKENS: `tester=${TOKEN}`,
        QUENCH_ENGINE_POLL_MS: '200',
        LOG_LEVEL: 'warn',
      }),
    );
    const url = serve.url;

    // Poll /healthz back to back, recording each answer's latency: first idle, then during the evaluation.
    let polling = true;
    const poll = async (latencies: number[], until: () => boolean) => {
      while (!until()) {
        const started = performance.now();
        const res = await fetch(`${url}/healthz`);
        await res.text();
        latencies.push(performance.now() - started);
        expect(res.status).toBe(200);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    const idle: number[] = [];
    await poll(idle, () => idle.length >= 40);
    const latencies: number[] = [];
    const poller = poll(latencies, () => !polling);

    // Over the list cap (24,000 items, the reported payload) and at the cap (1,000 items: n² over budget).
    const bodies = { over: event('adv-over-cap', 24_000), at: event('adv-at-cap', 1000) };
    for (const body of Object.values(bodies)) {
      expect(body.length).toBeGreaterThanOrEqual(48 * 1024 - 10);
      const res = await fetch(`${url}/webhooks/generic/adv`, { method: 'POST', headers: signed(body), body });
      expect(res.status).toBe(202);
    }

    const auth = { authorization: `Bearer ${TOKEN}` };
    const failures = new Map<string, string | undefined>();
    const deadline = Date.now() + 60_000;
    while (failures.size < 2 && Date.now() < deadline) {
      const list = (await (await fetch(`${url}/v1/runs`, { headers: auth })).json()) as { runs?: Array<{ id: string }> } | Array<{ id: string }>;
      const runs = Array.isArray(list) ? list : (list.runs ?? []);
      for (const r of runs) {
        const run = (await (await fetch(`${url}/v1/runs/${r.id}`, { headers: auth })).json()) as { steps?: StepView[]; trigger?: { key?: string } };
        const step = run.steps?.find((s) => (s.stepKey ?? s.key) === 'judge');
        if (step && step.status === 'failed') failures.set(r.id, step.error?.code);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    polling = false;
    await poller;

    expect([...failures.values()].sort()).toEqual(['expression_budget_exceeded', 'expression_input_too_large']);
    const worst = Math.max(...latencies);
    const idleWorst = Math.max(...idle);
    console.info(
      `/healthz during adversarial evaluation: ${latencies.length} answers, worst ${worst.toFixed(1)} ms (idle: worst ${idleWorst.toFixed(1)} ms)`,
    );
    expect(latencies.length).toBeGreaterThan(5);
    expect(worst).toBeLessThan(2500);
  }, 120_000);
});
