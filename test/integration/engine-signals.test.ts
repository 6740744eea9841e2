import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { isQuenchError } from '../../src/core/errors.js';
import type { HumanStepView } from '../../src/engine/notifier.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';
import { playbook, testEngine } from './engine-harness.js';

describe.each(databaseKinds)('waits, human decisions and cancellation on %s', (kind) => {
  let t: TestDatabase;
  afterEach(async () => t?.dispose());

  it('a wait step ends on alert.resolved (even one that arrived earlier) or on its timeout', async () => {
    t = await freshDatabase(kind);
    const clock = new ManualClock();
    const engine = testEngine(t.db, clock);
    const worker = engine.createWorker();
    const pb = playbook('waits', [
      { id: 'pause', kind: 'wait', duration: '10m' },
      { id: 'resolved', kind: 'wait', until: { event: 'alert.resolved', match: 'event.key == "k1"' }, timeout: '1h' },
    ]);
    const a = await engine.startRun({ playbook: pb, correlationId: 'corr-a' });
    const b = await engine.startRun({ playbook: pb, correlationId: 'corr-b' });
    await worker.drain();
    expect((await engine.getRun(a.runId))!.state).toBe('waiting');
    // Delivered during the timer: stored, and seen when the wait step starts.
    expect(await engine.signal({ correlationId: 'corr-a' }, { type: 'alert.resolved', payload: { key: 'k1' } })).toMatchObject({
      runs: [a.runId],
      completedSteps: [],
    });
    clock.advance(10 * 60_000);
    await worker.drain();
    expect((await engine.getRun(a.runId))!.state).toBe('succeeded');
    // Run b hears only a non-matching event, then times out and continues (onTimeout: continue).
    const waitingB = (await engine.getRun(b.runId))!;
    expect(waitingB.steps.map((s) => [s.key, s.status])).toEqual([
      ['pause', 'succeeded'],
      ['resolved', 'waiting'],
    ]);
    await engine.signal({ runId: b.runId }, { type: 'alert.resolved', payload: { key: 'other' } });
    expect((await engine.getRun(b.runId))!.state).toBe('waiting');
    clock.advance(60 * 60_000);
    await worker.drain();
    const doneB = (await engine.getRun(b.runId))!;
    expect(doneB.state).toBe('succeeded');
    expect(doneB.steps[1]!.output).toEqual({ timedOut: true });
  });

  it('enforces decision rules: not your own run, four-eyes for risk high, options and reasons', async () => {
    t = await freshDatabase(kind);
    const clock = new ManualClock();
    const engine = testEngine(t.db, clock);
    const seen: HumanStepView[] = [];
    engine.setNotifier({ waiting: async (v) => void seen.push(v), closed: async () => {} });
    const worker = engine.createWorker();
    const pb = playbook('rules', [
      { id: 'go', kind: 'human', type: 'approve', prompt: 'Fail over?', risk: 'high' },
      { id: 'pick', kind: 'human', type: 'choice', prompt: 'Which region?', options: [{ value: 'eu' }, { value: 'us' }] },
    ]);
    const { runId } = await engine.startRun({ playbook: pb, actor: { type: 'user', id: 'carol' } });
    await worker.drain();
    expect(seen.map((v) => [v.stepKey, v.requiredApprovals, v.startedBy])).toEqual([['go', 2, 'user:carol']]);
    const go = seen[0]!.stepId;
    const refusal = (p: Promise<unknown>) =>
      p.then(
        () => 'accepted',
        (e) => (isQuenchError(e) ? e.code : String(e)),
      );
    expect(await refusal(engine.decide(go, { outcome: 'approve' }, { type: 'user', id: 'carol' }))).toBe('forbidden');
    expect(await engine.decide(go, { outcome: 'approve' }, { type: 'user', id: 'alice' })).toMatchObject({
      status: 'approval_recorded',
      approvals: 1,
      required: 2,
    });
    expect(await refusal(engine.decide(go, { outcome: 'approve' }, { type: 'user', id: 'alice' }))).toBe('conflict');
    expect(await engine.decide(go, { outcome: 'approve' }, { type: 'user', id: 'bob' })).toMatchObject({
      status: 'decided',
      result: 'succeeded',
    });
    await worker.drain();
    const pick = seen[1]!;
    expect(pick.options?.map((o) => o.value)).toEqual(['eu', 'us']);
    expect(await refusal(engine.decide(pick.stepId, { outcome: 'choose', value: 'mars' }, { type: 'user', id: 'bob' }))).toBe(
      'bad_request',
    );
    expect(await refusal(engine.decide(pick.stepId, { outcome: 'reject', reason: ' ' }, { type: 'user', id: 'bob' }))).toBe('bad_request');
    await engine.decide(pick.stepId, { outcome: 'choose', value: 'eu' }, { type: 'user', id: 'bob' });
    const run = (await engine.getRun(runId))!;
    expect(run.state).toBe('succeeded');
    expect(run.steps[0]!.output).toMatchObject({ decision: 'approve', by: ['alice', 'bob'] });
    expect(run.steps[1]!.output).toMatchObject({ decision: 'choose', value: 'eu', by: ['bob'] });
  });

  it('a rejection fails the step and compensates; cancel stops a waiting run', async () => {
    t = await freshDatabase(kind);
    const clock = new ManualClock();
    const engine = testEngine(t.db, clock);
    const worker = engine.createWorker();
    const closed: Array<{ stepId: string; outcome: string }> = [];
    engine.setNotifier({ waiting: async () => {}, closed: async (c) => void closed.push({ stepId: c.stepId, outcome: c.outcome }) });
    const pb = playbook('reject', [
      {
        id: 'change',
        kind: 'action',
        action: 'log',
        params: { message: 'changed' },
        compensate: { action: 'log', params: { message: 'undone' } },
      },
      { id: 'ok', kind: 'human', type: 'approve', prompt: 'Keep it?' },
    ]);
    const first = await engine.startRun({ playbook: pb });
    const second = await engine.startRun({ playbook: pb });
    await worker.drain();
    const step = (await engine.getRun(first.runId))!.steps.find((s) => s.key === 'ok')!;
    await engine.decide(step.id, { outcome: 'reject', reason: 'looks wrong' }, { type: 'user', id: 'dave' });
    await worker.drain();
    const rejected = (await engine.getRun(first.runId))!;
    expect(rejected.state).toBe('compensated');
    expect(Object.fromEntries(rejected.steps.map((s) => [s.key, s.status]))).toEqual({
      change: 'succeeded',
      ok: 'failed',
      'change/compensate': 'succeeded',
    });
    expect(rejected.steps.find((s) => s.key === 'ok')!.error).toMatchObject({ code: 'rejected', message: 'rejected by dave: looks wrong' });
    await engine.cancel(second.runId, { type: 'user', id: 'dave' }, 'false alarm');
    const cancelled = (await engine.getRun(second.runId))!;
    expect(cancelled.state).toBe('cancelled');
    const waitingStep = cancelled.steps.find((s) => s.key === 'ok')!;
    expect(waitingStep.status).toBe('cancelled');
    expect(closed).toEqual([
      { stepId: step.id, outcome: 'decided' },
      { stepId: waitingStep.id, outcome: 'cancelled' },
    ]);
    await expect(engine.cancel(second.runId, { type: 'user', id: 'dave' }, 'again')).rejects.toMatchObject({ code: 'conflict' });
  });

  it('pins a run to its snapshot and records every transition in the audit trail', async () => {
    t = await freshDatabase(kind);
    const clock = new ManualClock();
    const engine = testEngine(t.db, clock);
    const pb = playbook('pinned', [{ id: 'only', kind: 'action', action: 'log', params: { message: 'v1' } }]);
    const { runId } = await engine.startRun({ playbook: pb, correlationId: 'corr-audit' });
    await engine.createWorker().drain();
    const run = (await engine.getRun(runId))!;
    expect(run.playbookHash).toBe(pb.hash);
    const { createAuditTrail } = await import('../../src/audit/trail.js');
    const entries = (await createAuditTrail(t.db, clock).page({ limit: 100 })).filter((e) => e.correlationId === 'corr-audit');
    expect(entries.map((e) => e.action)).toEqual(['run.started', 'run.running', 'step.created', 'step.succeeded', 'run.succeeded']);
  });
});
