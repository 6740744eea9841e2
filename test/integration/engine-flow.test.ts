import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';
import { playbook, testEngine } from './engine-harness.js';

describe.each(databaseKinds)('engine flows on %s', (kind) => {
  let t: TestDatabase;
  afterEach(async () => t?.dispose());

  it('runs actions, a decide branch and a human approval to success, with a timeline', async () => {
    t = await freshDatabase(kind);
    const clock = new ManualClock();
    const engine = testEngine(t.db, clock);
    const worker = engine.createWorker('w1');
    const pb = playbook(
      'flow',
      [
        { id: 'note', kind: 'action', action: 'log', params: { message: 'hello ${{ inputs.service }}' } },
        { id: 'route', kind: 'decide', branches: [{ when: 'inputs.service == "checkout"', next: 'approve' }], default: 'end' },
        { id: 'skipped', kind: 'action', action: 'log', params: { message: 'never' } },
        { id: 'approve', kind: 'human', type: 'approve', prompt: 'Restart ${{ inputs.service }}?' },
        { id: 'done', kind: 'action', action: 'log', params: { message: 'approved by ${{ steps.approve.output.by[0] }}' } },
      ],
      { inputs: { service: { type: 'string', required: true } } },
    );
    const { runId } = await engine.startRun({ playbook: pb, inputs: { service: 'checkout' } });
    await worker.drain();
    let run = await engine.getRun(runId);
    expect(run?.state).toBe('waiting');
    const human = run!.steps.find((s) => s.key === 'approve')!;
    expect(human.status).toBe('waiting');
    await engine.decide(human.id, { outcome: 'approve' }, { type: 'user', id: 'alice' });
    await worker.drain();
    run = await engine.getRun(runId);
    expect(run?.state).toBe('succeeded');
    expect(run!.steps.map((s) => [s.key, s.status])).toEqual([
      ['note', 'succeeded'],
      ['route', 'succeeded'],
      ['approve', 'succeeded'],
      ['done', 'succeeded'],
    ]);
    expect(run!.steps[0]!.output).toEqual({ message: 'hello checkout' });
    expect(run!.steps[3]!.output).toEqual({ message: 'approved by alice' });
  });

  it('refuses to run a step of a run whose stored snapshot was altered', async () => {
    t = await freshDatabase(kind);
    const clock = new ManualClock();
    const engine = testEngine(t.db, clock);
    const pb = playbook('tamper', [{ id: 'only', kind: 'action', action: 'log', params: { message: 'original' } }]);
    const { runId } = await engine.startRun({ playbook: pb });
    const { sql } = await import('drizzle-orm');
    await t.db.rows(
      sql`update engine_runs set definition = jsonb_set(definition, '{steps,0,params,message}', '"forged"') where id = ${runId}`,
    );
    await engine.createWorker().drain();
    const run = (await engine.getRun(runId))!;
    expect(run.state).toBe('failed');
    expect(run.steps[0]!.error).toMatchObject({ code: 'snapshot_invalid' });
    expect(run.steps[0]!.attempts).toHaveLength(0);
  });
});
