import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ACTION } from '../../src/chat/core/blocks.js';
import { loadPlaybooksStrict } from '../../src/playbooks/loader.js';
import type { TriggerEvent } from '../../src/triggers/event.js';
import { repoRoot } from '../support/quench-process.js';
import { type SlackHarness, startSlackHarness } from './slack-harness.js';

/**
 * Issue 9 §2: a refused (or timed-out) `risk: high` approval with `onFailure: escalate` must
 * not become an escalation anyone may approve alone. Runs the shipped playbooks/checkout.yaml
 * (approveRollback → kubectl rollout undo) with a recording `kubectl` on PATH, so the test sees
 * whether the risky command ran.
 */
const TOKENS = {
  ada: 'tok-ada-0123456789abcdef0123456789ab',
  bob: 'tok-bob-0123456789abcdef0123456789ab',
  eve: 'tok-eve-0123456789abcdef0123456789ab',
};

let bin: string;
let calls: string;
const savedPath = process.env.PATH;
beforeAll(() => {
  bin = mkdtempSync(join(tmpdir(), 'quench-kubectl-'));
  calls = join(bin, 'calls.log');
  writeFileSync(calls, '');
  writeFileSync(join(bin, 'kubectl'), `#!/bin/sh\necho "$*" >> '${calls}'\necho "REVISION 41, 42"\n`);
  chmodSync(join(bin, 'kubectl'), 0o755);
  process.env.PATH = `${bin}:${savedPath}`;
});
beforeEach(() => writeFileSync(calls, ''));
afterAll(() => {
  process.env.PATH = savedPath;
  rmSync(bin, { recursive: true, force: true });
});
const rollbacks = () => readFileSync(calls, 'utf8').split('\n').filter((l) => l.startsWith('rollout undo')).length;

async function startCheckout(h: SlackHarness): Promise<string> {
  const [checkout] = loadPlaybooksStrict([join(repoRoot, 'playbooks/checkout.yaml')], h.ctx.ports.engine.actions);
  const trigger: TriggerEvent = {
    source: 'alertmanager',
    type: 'alert.firing',
    key: `checkout-${Math.random()}`,
    severity: 'critical',
    summary: 'Checkout 5xx above SLO',
    labels: { service: 'checkout', alertname: 'CheckoutHighErrorRate' },
    annotations: {},
    occurredAt: h.clock.now(),
    resolved: false,
  };
  const { runId } = await h.ctx.ports.engine.startRun({ playbook: { definition: checkout!.definition, hash: checkout!.hash }, trigger });
  // `budget` (slo.check, no SLO evaluator here) retries with backoff, then continues.
  for (let i = 0; i < 20 && (await stepOf(h, runId, 'approveRollback'))?.status !== 'waiting'; i++) {
    await h.drain();
    h.clock.advance(10_000);
  }
  await h.drain();
  await h.settle();
  return runId;
}

const stepOf = async (h: SlackHarness, runId: string, key: string) => (await h.ctx.ports.engine.getRun(runId))?.steps.find((s) => s.key === key);
const audit = async (h: SlackHarness, action: string, stepId: string) =>
  (await h.ctx.audit.page({ limit: 1000 })).filter((e) => e.action === action && e.subject.id === stepId);

describe('escalation of a refused high-risk approval (playbooks/checkout.yaml)', () => {
  let h: SlackHarness;
  afterEach(async () => h?.close());

  it('after a rejection, the escalation is assigned (original + next level), keeps four-eyes, and refuses a bystander', async () => {
    h = await startSlackHarness('pglite', { env: { QUENCH_EXEC_ALLOWLIST: 'kubectl' } });
    const runId = await startCheckout(h);
    const approve = await stepOf(h, runId, 'approveRollback');
    expect(approve?.status).toBe('waiting');

    // The on-call (ada, level 1) refuses the rollback.
    await h.click('ada', ACTION.reject, approve!.id);
    expect((await h.submitReject('ada', approve!.id, 'the deploy is fine; the errors come from a dependency')).status).toBe(200);
    await h.settle();
    await h.drain();
    await h.settle();
    const escalation = await stepOf(h, runId, 'approveRollback/escalate');
    expect(escalation?.status).toBe('waiting');

    // A bystander may not approve it, through any path.
    const eve = await h.v1Decide(escalation!.id, TOKENS.eve, { decision: 'approve' });
    expect(eve.status).toBe(403);
    await h.click('eve', ACTION.approve, escalation!.id);
    await h.settle();
    const refusals = await audit(h, 'human_step.refused', escalation!.id);
    expect(refusals.map((r) => (r.data as { via?: string }).via).sort()).toEqual(['api', 'slack']);
    expect(refusals.every((r) => (r.data as { code: string }).code === 'not_assignee')).toBe(true);

    const offered = await audit(h, 'human_step.assigned', escalation!.id);
    expect(offered).toHaveLength(1);
    expect(offered[0]!.data).toMatchObject({ requiredApprovals: 2, escalationOf: 'approveRollback', escalatedTo: 'next-level', level: 2 });
    const names = (offered[0]!.data as { assignees: Array<{ aliases: string }> }).assignees.map((a) => a.aliases);
    expect(names.some((a) => a.includes('ada@example.com'))).toBe(true);
    expect(names.some((a) => a.includes('bob@example.com'))).toBe(true);

    // One assignee alone is not enough: the escalation needs two, like the step it replaces.
    const bob = await h.v1Decide(escalation!.id, TOKENS.bob, { decision: 'approve' });
    expect(((await bob.json()) as { status: string }).status).toBe('approval_recorded');
    await h.drain();
    expect((await stepOf(h, runId, 'rollback'))?.status ?? 'not started').toBe('not started');
    expect(rollbacks()).toBe(0);

    // The second distinct assignee completes it, and only then does the rollback run.
    await h.click('ada', ACTION.approve, escalation!.id);
    await h.settle();
    await h.drain();
    expect((await stepOf(h, runId, 'approveRollback/escalate'))?.status).toBe('succeeded');
    expect((await stepOf(h, runId, 'rollback'))?.status).toBe('succeeded');
    expect(rollbacks()).toBe(1);
  });

  it('after a timeout past every escalation level, the escalation goes to the assignees so far, never to anyone', async () => {
    h = await startSlackHarness('pglite', { env: { QUENCH_EXEC_ALLOWLIST: 'kubectl' } });
    const runId = await startCheckout(h);
    const approve = await stepOf(h, runId, 'approveRollback');
    // The SLA (10m) escalates to level 2 (bob); the step's timeout (30m) then fails it.
    h.clock.advance(10 * 60_000);
    await h.chat.fireDueTimers();
    h.clock.advance(20 * 60_000);
    await h.drain();
    await h.settle();
    expect((await stepOf(h, runId, 'approveRollback'))?.status).toBe('failed');
    const escalation = await stepOf(h, runId, 'approveRollback/escalate');
    expect(escalation?.status).toBe('waiting');
    expect(approve).toBeDefined();

    expect((await h.v1Decide(escalation!.id, TOKENS.eve, { decision: 'approve' })).status).toBe(403);
    const offered = await audit(h, 'human_step.assigned', escalation!.id);
    expect(offered[0]!.data).toMatchObject({ requiredApprovals: 2, escalatedTo: 'assignees' });
    expect((await h.v1Decide(escalation!.id, TOKENS.ada, { decision: 'approve' })).status).toBe(200);
    await h.drain();
    expect(rollbacks()).toBe(0);
    expect((await stepOf(h, runId, 'approveRollback/escalate'))?.status).toBe('waiting');
    // A rejection of the escalation fails the run without rolling back.
    expect((await h.v1Decide(escalation!.id, TOKENS.bob, { decision: 'reject', reason: 'not without the payments team' })).status).toBe(200);
    await h.drain();
    expect(rollbacks()).toBe(0);
    expect((await h.ctx.ports.engine.getRun(runId))?.state).not.toBe('succeeded');
  });
});
