import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAction } from '../../src/actions/action.js';
import { systemClock } from '../../src/core/clock.js';
import { readRunForStep } from '../../src/engine/sql/load.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';
import { playbook, testEngine } from './engine-harness.js';

/**
 * A step chained by the previous step's recording runs on the run as that commit left it,
 * which the recording builds from the rows it read under the run lock and its own writes
 * (transition.ts `after`) instead of reading the run again. Each action here renders the whole
 * `steps` context and compares it, values and key order, with the run read from the database
 * as the action runs.
 */
describe.each(databaseKinds)('the run a chained step sees (%s)', (kind) => {
  let t: TestDatabase;
  afterEach(async () => {
    await t?.dispose();
  });

  it('is the run as stored: every step, in the stored order, with the statuses, outputs and parameters recorded', async () => {
    t = await freshDatabase(kind);
    const mismatches: unknown[] = [];
    let compared = 0;
    const engine = testEngine(t.db, systemClock, { options: { concurrency: 2, pollMs: 50 } });
    engine.actions.register(
      defineAction({
        name: 'test.observe',
        changesState: false,
        params: z.strictObject({ seen: z.record(z.string(), z.unknown()), tag: z.string() }),
        async run(params, ctx) {
          const stored = (await readRunForStep(t.db.orm, ctx.runId))!;
          const expected: Record<string, unknown> = {};
          for (const r of stored.rows) {
            if (r.spec.role !== 'step') continue;
            // This step's attempt started after its context was built: its parameters were not there yet.
            const params = r.stepKey === ctx.stepKey ? null : (r.spec.params ?? null);
            expected[r.stepKey] = { status: r.status, output: r.output ?? null, params, error: r.error ?? null };
          }
          compared++;
          if (JSON.stringify(params.seen) !== JSON.stringify(expected)) mismatches.push({ step: ctx.stepKey, seen: params.seen, expected });
          return { tag: params.tag };
        },
      }),
    );
    const observe = (id: string) => ({ id, kind: 'action' as const, action: 'test.observe', params: { seen: '${{ steps }}', tag: `t-${id}` } });
    const pb = playbook('chained', [
      observe('a'),
      { id: 'skipped', kind: 'action', action: 'log', params: { message: 'never' }, when: 'false' },
      observe('b'),
      { id: 'plain', kind: 'action', action: 'log', params: { message: '${{ steps.b.output.tag }}' } },
      observe('c'),
      observe('d'),
    ]);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await engine.startRun({ playbook: pb })).runId);
    const worker = engine.createWorker('observer');
    await worker.start();
    try {
      for (let i = 0; i < 400; i++) {
        const states = await Promise.all(ids.map(async (id) => (await engine.getRun(id))!.state));
        if (states.every((s) => s === 'succeeded' || s === 'failed')) break;
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await worker.stop();
    }
    for (const id of ids) expect((await engine.getRun(id))!.state).toBe('succeeded');
    expect(compared).toBe(16);
    expect(mismatches).toEqual([]);
  });
});
