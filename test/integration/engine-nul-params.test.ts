import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';
import { playbook, testEngine } from './engine-harness.js';

/**
 * Parameters that render to a NUL character (the expression language turns `\x00` into one)
 * cannot be stored with the attempt start (jsonb refuses it). Found by an attack on the attempt
 * start: the start failed on every try and every takeover, so the step never ended. It must
 * fail once, as invalid parameters, with no attempt and no call; the step before it stands.
 */
describe.each(databaseKinds)('action parameters holding a NUL (%s)', (kind) => {
  let t: TestDatabase;
  afterEach(async () => {
    await t?.dispose();
  });

  it('fail the step as invalid parameters instead of retrying its attempt start for ever', async () => {
    t = await freshDatabase(kind);
    const engine = testEngine(t.db, new ManualClock(), { options: { recordRetryMs: 1, recordTries: 2 } });
    const pb = playbook('nul-param', [
      { id: 'first', kind: 'action', action: 'log', params: { message: 'first' } },
      { id: 'second', kind: 'action', action: 'log', params: { message: '${{ "a\\x00b" }}' } },
    ]);
    const { runId } = await engine.startRun({ playbook: pb });
    await engine.createWorker('w').drain({ maxSteps: 20 });
    const run = (await engine.getRun(runId))!;
    expect(Object.fromEntries(run.steps.map((s) => [s.key, s.status]))).toEqual({ first: 'succeeded', second: 'failed' });
    expect(run.state).toBe('failed');
    const second = run.steps.find((s) => s.key === 'second')!;
    expect(second.error).toMatchObject({ code: 'invalid_params', retryable: false });
    expect((second.error as { message: string }).message).toMatch(/NUL/);
    const [attempts] = await t.db.rows<{ n: number }>(
      sql`select count(*)::int as n from engine_attempts a join engine_steps s on s.id = a.step_id where s.run_id = ${runId} and s.step_key = 'second'`,
    );
    expect(attempts!.n).toBe(0);
  });
});
