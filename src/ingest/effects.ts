import { sql } from 'drizzle-orm';
import type { Database } from '../db/database.js';
import { triggerEventSchema } from '../triggers/event.js';
import { LostClaimError } from './inbox.js';
import type { RunPort } from './runs.js';

/**
 * Carries out a delivery's pending effects (ingest_effects) in order, after its decisions
 * committed. Each effect is idempotent, so a retry after a crash at any point repeats none:
 * a start adopts the run an interrupted attempt already created (found by its handle, and
 * made atomic by the engine's unique start key, so two workers racing on one delivery after a
 * lease takeover still make one run), and a signal passes its effect id as the idempotency
 * key. Marking an effect done is fenced by the claim's attempt number. An effect is marked done right after it
 * succeeds; the delivery completes once none is left.
 */
export class RunNotStartedYet extends Error {
  constructor(handle: string) {
    super(`the run with handle ${handle} has not been started yet (its start is pending in another delivery); will retry`);
  }
}

interface EffectRow {
  id: string | number;
  event_id: string | number;
  kind: 'start' | 'signal';
  run_handle: string;
  playbook: string | null;
  signal: string | null;
  payload: Record<string, unknown> | string;
}

export async function runPendingEffects(
  db: Database,
  runs: RunPort,
  claim: { id: number; attempts: number },
  now: () => Date,
): Promise<number> {
  const inboxId = claim.id;
  const effects = await db.rows<EffectRow>(
    sql`select id, event_id, kind, run_handle, playbook, signal, payload from ingest_effects
         where inbox_id = ${inboxId} and done_at is null order by id`,
  );
  for (const effect of effects) {
    // Give the event loop a turn between effects: PGlite runs each statement synchronously, so
    // the hundreds of signals of one large notification would otherwise answer no request
    // (webhooks, /healthz) until the last of them is done.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const payload = (typeof effect.payload === 'string' ? JSON.parse(effect.payload) : effect.payload) as Record<string, unknown>;
    let runId: string;
    if (effect.kind === 'start') {
      runId =
        (await runs.findRun(effect.run_handle)) ??
        (await runs.start({ playbook: effect.playbook!, event: triggerEventSchema.parse(payload), correlationId: effect.run_handle }))
          .runId;
    } else {
      const target = await runs.findRun(effect.run_handle);
      if (!target) throw new RunNotStartedYet(effect.run_handle);
      runId = target;
      await runs.signal(runId, effect.signal!, payload, `ingest-effect:${effect.id}`);
    }
    // One statement, fenced by the claim: the effect is done and its event knows the run, but
    // only while this attempt still holds the delivery. A worker whose lease was taken over
    // stops here; the new claimant repeats the (idempotent) effect and records it.
    const [marked] = await db.rows<{ marked: number | string }>(sql`
      with claim as (
        select id from ingest_inbox where id = ${inboxId} and status = 'processing' and attempts = ${claim.attempts} for update
      ), done as (
        update ingest_effects set run_id = ${runId}, done_at = ${now().toISOString()}::timestamptz
         where id = ${Number(effect.id)} and done_at is null and exists (select 1 from claim) returning event_id
      ), linked as (
        update ingest_events set run_id = ${runId} where id in (select event_id from done) and outcome in ('started', 'joined') returning id
      )
      select count(*)::int as marked from done`);
    if (Number(marked?.marked ?? 0) !== 1) throw new LostClaimError(inboxId);
  }
  return effects.length;
}
