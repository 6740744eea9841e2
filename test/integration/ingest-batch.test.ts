import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { type AuditTrail, createAuditTrail } from '../../src/audit/trail.js';
import { ManualClock } from '../../src/core/clock.js';
import { claimDue, insertDelivery } from '../../src/ingest/inbox.js';
import { createIngestMetrics } from '../../src/ingest/metrics.js';
import { LostClaimError, type ProcessorDeps, processBatch, processDelivery } from '../../src/ingest/processor.js';
import type { RunPort } from '../../src/ingest/runs.js';
import { createWaker } from '../../src/ingest/wake.js';
import { createIngestWorker } from '../../src/ingest/worker.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';
import { genericBody } from '../support/ingest-webhooks.js';
import { testPlaybook } from '../support/ingest-pipeline.js';

/**
 * The worker's batches (src/ingest/processor.ts processBatch): the decisions of a claimed batch
 * commit in one transaction. Attacks: a delivery whose decision fails inside the shared
 * transaction, a claim taken over before the batch decides, and effects (run starts, signals)
 * that must still happen once each, after the commit.
 */
const playbook = testPlaybook('deploy-page', [{ source: 'generic:batch', labels: { page: 'yes' } }]);

function setup(db: TestDatabase['db'], audit?: (real: AuditTrail) => AuditTrail) {
  const clock = new ManualClock('2026-12-01T06:00:00Z');
  const realAudit = createAuditTrail(db, clock);
  const metrics = createIngestMetrics(createMetrics().registry, async () => ({ lagSeconds: 0, pending: 0 }));
  const started: string[] = [];
  const signalled: Array<{ runId: string; type: string; key: string }> = [];
  const runs: RunPort = {
    findRun: async (handle) => (started.includes(handle) ? `run-${handle}` : undefined),
    start: async ({ correlationId }) => {
      started.push(correlationId);
      return { runId: `run-${correlationId}` };
    },
    signal: async (runId, type, _payload, key) => void signalled.push({ runId, type, key }),
  };
  const deps: ProcessorDeps = { db, clock, audit: audit ? audit(realAudit) : realAudit, metrics, runs, playbooks: () => [playbook.definition] };
  const worker = createIngestWorker({
    db,
    clock,
    logger: silentLogger,
    metrics,
    audit: realAudit,
    process: (row) => processDelivery(deps, row),
    processBatch: (rows, shouldStop) => processBatch(deps, rows, shouldStop),
  });
  const deliver = (key: string, labels: Record<string, string>) =>
    insertDelivery(db, { source: 'generic:batch', deliveryKey: key, receivedAt: clock.now(), headers: {}, body: genericBody(key, { labels }) });
  const inbox = () =>
    db.rows<{ id: number; delivery_key: string; status: string; attempts: number; completions: number; decided: boolean; last_error: string | null }>(
      sql`select id::int as id, delivery_key, status, attempts, completions, decided_at is not null as decided, last_error from ingest_inbox order by id`,
    );
  const events = () =>
    db.rows<{ inbox_id: number; outcome: string }>(sql`select inbox_id::int as inbox_id, outcome from ingest_events order by id`);
  return { clock, audit: realAudit, deps, worker, deliver, inbox, events, started, signalled };
}

describe.each(databaseKinds)('inbox batches on %s', (kind) => {
  let t: TestDatabase;
  afterEach(async () => t?.dispose());

  it('decides a claimed batch together and carries out its effects once each, in arrival order', async () => {
    t = await freshDatabase(kind);
    const s = setup(t.db);
    await s.deliver('a', { service: 'checkout', page: 'yes' }); // starts a run
    await s.deliver('b', { service: 'search', page: 'no' }); // unrouted
    await s.deliver('c', { service: 'cart', page: 'yes' }); // starts a second run
    await s.deliver('d', { service: 'checkout', page: 'yes' }); // the same alert as a: signalled to its run
    await s.deliver('e', { service: 'search', page: 'no' }); // the same unrouted alert as b: a repeat
    expect(await s.worker.runOnce()).toBe(5);

    const inbox = await s.inbox();
    expect(inbox.map((r) => [r.delivery_key, r.status, r.completions, r.decided])).toEqual([
      ['a', 'done', 1, true],
      ['b', 'done', 1, true],
      ['c', 'done', 1, true],
      ['d', 'done', 1, true],
      ['e', 'done', 1, true],
    ]);
    expect((await s.events()).map((e) => e.outcome)).toEqual(['started', 'unrouted', 'started', 'signalled', 'repeat']);
    expect(s.started).toHaveLength(2);
    expect(s.signalled).toHaveLength(1);
    expect(s.signalled[0]!.runId).toBe(`run-${s.started[0]}`);
    // Every delivery's acceptance is in the trail, and the chain over them holds.
    const trail = await s.audit.page({ limit: 100 });
    expect(trail.filter((e) => e.action === 'ingest.accepted').map((e) => e.subject.id)).toEqual(inbox.map((r) => String(r.id)));
    expect((await s.audit.verify()).ok).toBe(true);
    // Nothing is left to do: a second pass claims nothing and repeats no effect.
    expect(await s.worker.runOnce()).toBe(0);
    expect(s.started).toHaveLength(2);
  });

  it('a delivery whose decision fails inside the shared transaction fails alone; the others are decided once', async () => {
    t = await freshDatabase(kind);
    let poison = -1;
    const s = setup(t.db, (real) => ({
      ...real,
      // A decision's audit entries go in one append per transaction (src/ingest/processor.ts decisionIo).
      appendMany: (inputs, executor, send) =>
        inputs.some((input) => input.subject.id === String(poison))
          ? Promise.reject(new Error('audit refused this one'))
          : real.appendMany(inputs, executor, send),
    }));
    await s.deliver('p1', { service: 'a' });
    poison = (await s.deliver('p2', { service: 'b' }))!.id;
    await s.deliver('p3', { service: 'c' });
    expect(await s.worker.runOnce()).toBe(3);

    const inbox = await s.inbox();
    expect(inbox.map((r) => [r.delivery_key, r.status, r.decided])).toEqual([
      ['p1', 'done', true],
      ['p2', 'pending', false],
      ['p3', 'done', true],
    ]);
    expect(inbox[1]!.last_error).toMatch(/audit refused this one/);
    // The rolled-back batch left nothing behind: one event each for the two that were decided.
    expect((await s.events()).map((e) => e.inbox_id)).toEqual([inbox[0]!.id, inbox[2]!.id]);
    const accepted = (await s.audit.page({ limit: 100 })).filter((e) => e.action === 'ingest.accepted');
    expect(accepted.map((e) => e.subject.id)).toEqual([String(inbox[0]!.id), String(inbox[2]!.id)]);
  });

  it('leaves a delivery whose claim was taken over to its new owner, and decides the rest', async () => {
    t = await freshDatabase(kind);
    const s = setup(t.db);
    for (const key of ['l1', 'l2', 'l3']) await s.deliver(key, { service: key });
    const rows = await claimDue(t.db, s.clock.now(), 60_000, 10);
    expect(rows).toHaveLength(3);
    // Another worker took l2 over (its lease expired while this one was paused).
    await t.db.rows(sql`update ingest_inbox set attempts = attempts + 1 where id = ${rows[1]!.id}`);
    const items = await processBatch(s.deps, rows);
    expect(items.map((i) => [i.row.deliveryKey, i.error instanceof LostClaimError])).toEqual([
      ['l2', true],
      ['l1', false],
      ['l3', false],
    ]);
    const inbox = await s.inbox();
    expect(inbox.map((r) => [r.delivery_key, r.status, r.decided])).toEqual([
      ['l1', 'done', true],
      ['l2', 'processing', false],
      ['l3', 'done', true],
    ]);
    expect((await s.events()).map((e) => e.inbox_id)).toEqual([inbox[0]!.id, inbox[2]!.id]);
  });

  it('on shutdown hands back the deliveries whose effects it has not started, decided, for the next claim to finish', async () => {
    t = await freshDatabase(kind);
    const s = setup(t.db);
    await s.deliver('s1', { service: 'one', page: 'yes' });
    await s.deliver('s2', { service: 'two', page: 'yes' });
    const rows = await claimDue(t.db, s.clock.now(), 60_000, 10);
    // Stop is asked as soon as the first run has started.
    const items = await processBatch(s.deps, rows, () => s.started.length > 0);
    expect(items.map((i) => [i.row.deliveryKey, i.released === true, i.error])).toEqual([
      ['s1', false, undefined],
      ['s2', true, undefined],
    ]);
    expect(s.started).toHaveLength(1);
  });
});

/**
 * Pacing under load (src/ingest/worker.ts maxRestMs): while deliveries keep arriving, the
 * service's loop rests after each full batch as long as the batch took; without arrivals
 * (a backlog after an outage) the batches follow each other at once.
 */
describe.each(databaseKinds)('inbox worker pacing on %s', (kind) => {
  let t: TestDatabase;
  afterEach(async () => t?.dispose());

  const runBatches = async (db: TestDatabase['db'], arrivals: boolean) => {
    const clock = new ManualClock('2026-12-01T06:00:00Z');
    for (const key of ['r1', 'r2', 'r3', 'r4', 'r5', 'r6']) {
      await insertDelivery(db, { source: 'generic:pace', deliveryKey: key, receivedAt: clock.now(), headers: {}, body: '{}' });
    }
    const waker = createWaker(db, () => {});
    const batches: Array<{ start: number; end: number }> = [];
    let finished!: () => void;
    const allDone = new Promise<void>((resolve) => (finished = resolve));
    const worker = createIngestWorker({
      db,
      clock,
      logger: silentLogger,
      metrics: createIngestMetrics(createMetrics().registry, async () => ({ lagSeconds: 0, pending: 0 })),
      audit: createAuditTrail(db, clock),
      waker,
      batchSize: 2,
      maxRestMs: 10_000,
      pollMs: 60_000,
      process: async () => {},
      // Claims stay held (leased), so each batch takes the next two deliveries.
      processBatch: async (rows) => {
        const start = performance.now();
        // A webhook accepted by this process while the batch is processed.
        if (arrivals) waker.wake();
        await new Promise((r) => setTimeout(r, 250));
        batches.push({ start, end: performance.now() });
        if (batches.length === 3) finished();
        return rows.map((row) => ({ row }));
      },
    });
    await worker.start();
    await allDone;
    await worker.stop();
    return batches.slice(1).map((b, i) => ({ gap: b.start - batches[i]!.end, previous: batches[i]!.end - batches[i]!.start }));
  };

  it('rests after a full batch as long as it took while deliveries arrive, and not at all without them', async () => {
    t = await freshDatabase(kind);
    for (const { gap, previous } of await runBatches(t.db, true)) expect(gap).toBeGreaterThanOrEqual(previous - 5);
    await t.db.rows(sql`delete from ingest_inbox`);
    for (const { gap } of await runBatches(t.db, false)) expect(gap).toBeLessThan(150);
  });
});
