import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlaybookSource } from '../../src/playbooks/core/model.js';
import { type SlackHarness, startSlackHarness } from './slack-harness.js';

/**
 * Issue 9 §2: a templated `confidence` or `impact` is rendered when the step is offered, so the
 * confidence × impact grid applies to it; a template that fails, or a value out of range, asks a
 * human (never auto-approves, never blocks), and the reason is audited.
 */
const steps = (confidence: string | number, impact: string): PlaybookSource['steps'] =>
  [
    { id: 'diagnose', kind: 'action', action: 'log', params: { message: 'diagnosed' } },
    { id: 'restart', kind: 'human', type: 'approve', prompt: 'Restart the pods?', risk: 'low', confidence, impact },
    { id: 'done', kind: 'action', action: 'log', params: { message: 'restarted' } },
  ] as PlaybookSource['steps'];

describe('templated confidence and impact', () => {
  let h: SlackHarness;
  beforeAll(async () => {
    h = await startSlackHarness('pglite', { slack: false });
  });
  afterAll(async () => h?.close());

  const run = async (confidence: string | number, impact: string, labels: Record<string, string> = {}) => {
    const runId = await h.startRun(steps(confidence, impact), { labels: { service: 'checkout', ...labels } });
    await h.drain();
    const stepId = await h.waitingStep(runId, 'restart');
    const entries = (await h.ctx.audit.page({ limit: 1000 })).filter((e) => e.subject.id === stepId);
    const status = (await h.ctx.ports.engine.getRun(runId))?.steps.find((s) => s.id === stepId)?.status;
    return { status, actions: entries.map((e) => e.action), entries };
  };

  it('auto-approves when the rendered confidence and impact fall in an auto cell', async () => {
    const r = await run("${{ trigger.labels.evidence == 'strong' ? 0.95 : 0.2 }}", 'low', { evidence: 'strong' });
    expect(r.actions).toContain('human_step.auto_approved');
    expect(r.status).toBe('succeeded');
    expect(JSON.stringify(r.entries.find((e) => e.action === 'human_step.auto_approved')!.data)).toContain('confidence 0.95');
  });

  it('blocks when a templated impact renders high and the confidence is low', async () => {
    const r = await run("${{ trigger.labels.evidence == 'strong' ? 0.95 : 0.2 }}", "${{ trigger.labels.blast }}", {
      evidence: 'weak',
      blast: 'high',
    });
    expect(r.actions).toContain('human_step.blocked');
    expect(r.status).toBe('failed');
  });

  it('asks a human when the confidence renders outside 0..1', async () => {
    const r = await run('${{ 1.5 }}', 'low');
    expect(r.status).toBe('waiting');
    expect(r.actions).not.toContain('human_step.auto_approved');
    const assigned = r.entries.find((e) => e.action === 'human_step.assigned');
    expect((assigned!.data as { policy: string }).policy).toContain('not a number from 0 to 1');
  });

  it('asks a human when a template fails or the impact is not low, medium or high', async () => {
    const failing = await run('${{ trigger.labels.nosuchlabel }}', 'low');
    expect(failing.status).toBe('waiting');
    expect((failing.entries.find((e) => e.action === 'human_step.assigned')!.data as { policy: string }).policy).toContain(
      'confidence template failed',
    );
    const badImpact = await run(0.99, '${{ trigger.labels.service }}');
    expect(badImpact.status).toBe('waiting');
    expect((badImpact.entries.find((e) => e.action === 'human_step.assigned')!.data as { policy: string }).policy).toContain(
      'impact "checkout" is not low, medium or high',
    );
  });
});
