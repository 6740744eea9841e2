import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { engineRunPort } from '../../src/ingest/engine-port.js';
import { claimDue, insertDelivery, LostClaimError } from '../../src/ingest/inbox.js';
import { createIngestMetrics } from '../../src/ingest/metrics.js';
import { processDelivery } from '../../src/ingest/processor.js';
import type { RunPort } from '../../src/ingest/runs.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { databaseKinds, freshDatabase, type TestDatabase } from '../support/databases.js';
import { ingestPipeline, testPlaybook } from '../support/ingest-pipeline.js';
import { genericBody } from '../support/ingest-webhooks.js';

// Issue 9 §4: one alert could start two runs when an inbox lease was taken over during the
// effects phase: worker A found no run and was about to start one when its lease expired;
// worker B claimed the delivery, found no run either, and started one; then A started its
// own. Start is now insert-or-adopt under a unique start key, and marking the effect done is
// fenced by the claim, so A ends with a lost claim and the alert has exactly one run.
describe.each(databaseKinds)('lease takeover during the effects phase on %s', (kind) => {
  let t: TestDatabase;
  afterEach(async () => t?.dispose());

  it('starts one run, and the worker that lost its lease stops without recording anything', async () => {
    t = await freshDatabase(kind);
    let releaseA!: () => void;
    const aMayStart = new Promise<void>((r) => (releaseA = r));
    let startsSeen = 0;
    // Worker A's start pauses (as a slow or stalled process would) until B has done everything.
    const pausingFirstStart = (real: RunPort): RunPort => ({
      ...real,
      async start(input) {
        if (++startsSeen === 1) await aMayStart;
        return real.start(input);
      },
    });
    const p = ingestPipeline(t.db);
    p.store.replace([testPlaybook('deploys', [{ source: 'generic:ci' }])]);
    const metrics = createIngestMetrics(createMetrics().registry, async () => ({ lagSeconds: 0, pending: 0 }));
    const deps = (runs: RunPort) => ({
      db: t.db,
      clock: p.clock,
      audit: p.audit,
      metrics,
      runs,
      playbooks: () => p.store.list().map((x) => x.definition),
    });
    const real = engineRunPort(p.engine, t.db, () => p.store);

    await insertDelivery(t.db, { source: 'generic:ci', deliveryKey: 'd1', receivedAt: p.clock.now(), headers: {}, body: genericBody('d1') });
    const [a] = await claimDue(t.db, p.clock.now(), 60_000, 10);
    const workerA = processDelivery(deps(pausingFirstStart(real)), a!);
    // Let A commit its decisions and reach the paused start.
    for (let i = 0; i < 200 && startsSeen === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(startsSeen).toBe(1);

    p.clock.advance(61_000);
    const [b] = await claimDue(t.db, p.clock.now(), 60_000, 10);
    expect(b).toMatchObject({ id: a!.id, attempts: 2 });
    b!.decidedAt = (await claimedRow(t, b!.id)).decidedAt;
    await processDelivery(deps(pausingFirstStart(real)), b!);

    releaseA();
    await expect(workerA).rejects.toBeInstanceOf(LostClaimError);
    const runs = await p.runs();
    expect(runs).toHaveLength(1);
    expect(await p.inbox()).toEqual([expect.objectContaining({ status: 'done', completions: 1 })]);
    expect((await p.events()).map((e) => e.run_id)).toEqual([runs[0]!.id]);
  });
});

async function claimedRow(t: TestDatabase, id: number): Promise<{ decidedAt: Date | null }> {
  const [row] = await t.db.rows<{ decided_at: string | Date | null }>(sql`select decided_at from ingest_inbox where id = ${id}`);
  return { decidedAt: row?.decided_at ? new Date(row.decided_at) : null };
}
