import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAction } from '../../src/actions/action.js';
import { ManualClock, systemClock } from '../../src/core/clock.js';
import { type Database, openDatabase } from '../../src/db/database.js';
import { claimDueSteps } from '../../src/engine/sql/claim.js';
import { databaseKinds, freshDatabase, TEST_DATABASE_URL, type TestDatabase } from '../support/databases.js';
import { playbook, testEngine } from './engine-harness.js';

/**
 * The throughput mechanisms of issue 14 attacked: the definitions cache keyed by content hash
 * and snapshot digest, the claim of the next step of a run in the completing transaction
 * (chaining), and waking other replicas from outside the transaction.
 */
async function waitUntil(done: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 600 && !(await done()); i++) await new Promise((r) => setTimeout(r, 50));
}

const log = (id: string, message = id) => ({ id, kind: 'action' as const, action: 'log', params: { message } });

describe.each(databaseKinds)('engine throughput mechanisms on %s', (kind) => {
  let t: TestDatabase;
  afterEach(async () => {
    await t?.dispose();
  });

  it('never serves a cached definition for a snapshot altered after it was cached', async () => {
    t = await freshDatabase(kind);
    const engine = testEngine(t.db, new ManualClock());
    const pb = playbook('cached', [log('first', 'original'), log('second', 'original')]);
    const { runId } = await engine.startRun({ playbook: pb });
    // The first step runs: the verified definition is now cached for this hash.
    expect(await engine.createWorker().drain({ maxSteps: 1 })).toBe(1);
    // Altered in place: same recorded hash, different content.
    await t.db.rows(sql`update engine_runs set definition = jsonb_set(definition, '{steps,1,params,message}', '"forged"') where id = ${runId}`);
    await engine.createWorker().drain();
    const run = (await engine.getRun(runId))!;
    expect(run.state).toBe('failed');
    expect(run.steps.map((s) => [s.key, s.status])).toEqual([
      ['first', 'succeeded'],
      ['second', 'failed'],
    ]);
    expect(run.steps[1]!.error).toMatchObject({ code: 'snapshot_invalid' });
    expect(run.steps[1]!.attempts).toHaveLength(0);
  });

  it('runs each run on the definition it started with across a playbook edit', async () => {
    t = await freshDatabase(kind);
    const engine = testEngine(t.db, new ManualClock());
    const v1 = playbook('edited', [log('a', 'v1 a'), log('b', 'v1 b')]);
    const v2 = playbook('edited', [log('a', 'v2 a'), log('b', 'v2 b')]);
    const old = await engine.startRun({ playbook: v1 });
    await engine.createWorker().drain({ maxSteps: 1 });
    const fresh = await engine.startRun({ playbook: v2 });
    await engine.createWorker().drain();
    const outputs = async (id: string) => (await engine.getRun(id))!.steps.map((s) => s.output);
    expect(await outputs(old.runId)).toEqual([{ message: 'v1 a' }, { message: 'v1 b' }]);
    expect(await outputs(fresh.runId)).toEqual([{ message: 'v2 a' }, { message: 'v2 b' }]);
  });

  it('claims the next step of the run in the completing transaction, leased to the same worker', async () => {
    t = await freshDatabase(kind);
    const clock = systemClock;
    const engine = testEngine(t.db, clock);
    let secondRunning: { status: string; lease_owner: string | null }[] = [];

    let claimedByOther = -1;
    engine.actions.register(
      defineAction({
        name: 'test.look',
        changesState: false,
        params: z.strictObject({}),
        async run() {
          // While the chained step runs, its row is `running` under a lease, and another
          // worker's claim (same clock, lease not expired) finds nothing to take.
          secondRunning = await t.db.rows(sql`select status, lease_owner from engine_steps where step_key = 'second'`);
          claimedByOther = (await claimDueSteps(t.db, 'other', clock.now(), 30_000, 10)).length;
          return {};
        },
      }),
    );
    const pb = playbook('chain', [log('first'), { id: 'second', kind: 'action', action: 'test.look', params: {} }]);
    const { runId } = await engine.startRun({ playbook: pb });
    const worker = engine.createWorker('w1');
    await worker.start();
    await waitUntil(async () => (await engine.getRun(runId))!.state === 'succeeded');
    await worker.stop();
    expect(secondRunning).toHaveLength(1);
    expect(secondRunning[0]!.status).toBe('running');
    expect(secondRunning[0]!.lease_owner).toMatch(/^w1\//);
    expect(claimedByOther).toBe(0);
    // Claimed at the very instant `first` was recorded (the same transaction's time, on a
    // real clock): a separate claim after that commit would start it later.
    const [first, second] = await t.db.rows<{ ended_at: string; started_at: string }>(
      sql`select ended_at::text, started_at::text from engine_steps order by step_key`,
    );
    expect(second!.started_at).toBe(first!.ended_at);
    const run = (await engine.getRun(runId))!;
    expect(run.state).toBe('succeeded');
    expect(run.steps.flatMap((s) => s.attempts.map((a) => [s.key, a.takeovers]))).toEqual([
      ['first', 0],
      ['second', 0],
    ]);
  });
});

describe.skipIf(!TEST_DATABASE_URL)('claims and wake-ups across replicas (PostgreSQL)', () => {
  let t: TestDatabase;
  const extra: Database[] = [];
  afterEach(async () => {
    await Promise.all(extra.splice(0).map((db) => db.close()));
    await t?.dispose();
  });

  it('a batched claim skips the steps of a run another worker holds locked', async () => {
    t = await freshDatabase('postgres');
    const engine = testEngine(t.db, systemClock, { options: { leaseClock: 'database' } });
    const pb = playbook('locked', [log('only')]);
    const held = await engine.startRun({ playbook: pb });
    const free = await Promise.all([1, 2, 3].map(() => engine.startRun({ playbook: pb })));
    const other = await openDatabase({ url: t.url!, poolMax: 1 });
    extra.push(other);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    // Another worker is recording a result of `held`: it holds the run and its step locked.
    const holder = other.orm.transaction(async (tx) => {
      await tx.execute(sql`select id from engine_runs where id = ${held.runId} for update`);
      await tx.execute(sql`select id from engine_steps where run_id = ${held.runId} for update`);
      locked();
      await released;
    });
    await isLocked;
    const claimed = await claimDueSteps(t.db, 'batch', new Date(), 30_000, 10, { databaseClock: true });
    release();
    await holder;
    expect(claimed.map((c) => c.runId).sort()).toEqual(free.map((f) => f.runId).sort());
    // Once the other worker let go, its step is claimable again (nothing was lost).
    const later = await claimDueSteps(t.db, 'batch', new Date(), 30_000, 10, { databaseClock: true });
    expect(later.map((c) => c.runId)).toEqual([held.runId]);
  });

  it('wakes a worker of another replica soon after a start commits, without waiting for its poll', async () => {
    t = await freshDatabase('postgres');
    const replicas = await Promise.all(
      ['starter', 'runner'].map(async () => {
        const db = await openDatabase({ url: t.url!, poolMax: 3 });
        extra.push(db);
        // A poll so slow the test would time out before it: only a wake-up can run the step.
        return testEngine(db, systemClock, { options: { leaseClock: 'database', pollMs: 600_000 } });
      }),
    );
    const ran = new Promise<string>((resolve) => {
      replicas[1]!.actions.register(
        defineAction({ name: 'test.ran', changesState: false, params: z.strictObject({}), run: async (_p, ctx) => (resolve(ctx.runId), {}) }),
      );
    });
    replicas[0]!.actions.register(defineAction({ name: 'test.ran', changesState: false, params: z.strictObject({}), run: async () => ({}) }));
    const worker = replicas[1]!.createWorker('runner');
    await worker.start();
    try {
      // The runner's start-up claim pass has found nothing; from now on only a NOTIFY wakes it.
      await new Promise((r) => setTimeout(r, 300));
      const { runId } = await replicas[0]!.startRun({ playbook: playbook('remote', [{ id: 'go', kind: 'action', action: 'test.ran', params: {} }]) });
      const outcome = await Promise.race([ran, new Promise<string>((r) => setTimeout(() => r('not woken'), 20_000))]);
      expect(outcome).toBe(runId);
    } finally {
      await worker.stop();
    }
  });
});
