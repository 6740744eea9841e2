import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { QuenchError } from '../../core/errors.js';
import type { Playbook } from '../../playbooks/core/model.js';
import { resolveInputs as resolvePlaybookInputs } from '../../playbooks/core/inputs.js';
import type { TriggerEvent } from '../../triggers/event.js';
import { firstOf } from '../core/flow.js';
import type { Actor, DrillOptions, RunRow } from '../model.js';
import type { Runtime } from '../runtime.js';
import { engineRuns } from '../schema.js';
import type { CarriedContext } from '../tracing.js';
import type { ClaimedStep } from './claim.js';
import { releaseInDoubt } from '../in-doubt.js';
import type { LeanRun } from './load.js';
import { pipelineOn } from '../../db/pipeline.js';
import { prestartAttempt, prestarted } from '../prestart.js';
import { applyEffects, chainSlot } from './transition.js';

/** A playbook version as the loader gives it: the parsed definition and its content hash. */
export interface PlaybookVersion {
  definition: Playbook;
  hash: string;
}

export interface StartRunInput {
  playbook: PlaybookVersion;
  trigger?: TriggerEvent | null;
  inputs?: Record<string, unknown>;
  /** Defaults to the trigger's correlation id, else a new one. */
  correlationId?: string;
  /**
   * Idempotency key of this start: when a run with the same key exists (committed, or
   * committing in another transaction), no second run is made and that run is returned.
   */
  startKey?: string;
  drill?: DrillOptions | null;
  /** Who starts it; defaults to `system:engine`. A user never approves steps of runs they started. */
  actor?: Actor;
  /** The starting person's other names (Slack id, email) as the service resolved them; never from a request. */
  starterAliases?: string[];
  traceContext?: CarriedContext;
}

/**
 * Creates a run in one transaction: the run row with its playbook snapshot (so the run is
 * pinned to this version whatever happens to the file), its first step, and the audit
 * entries. With a `startKey` that a run already holds, it creates nothing and returns that run.
 *
 * The first step goes, when a started worker of this process has a free slot, to that slot:
 * inserted claimed under the slot's token in the same commit and handed over with the run as
 * the commit leaves it (handoff.ts), so it runs without a wake-up, a claim or a read. Else it
 * is inserted `ready` and the workers are woken after commit.
 */
export async function startRun(rt: Runtime, input: StartRunInput): Promise<RunRow> {
  const definition = input.playbook.definition;
  const inputs = resolveInputs(definition, input.inputs ?? {});
  const now = rt.clock.now();
  const actor = input.actor ?? { type: 'system', id: 'engine' };
  const correlationId = input.correlationId ?? input.trigger?.correlationId ?? randomUUID();
  const id = randomUUID();
  const traceContext = await rt.tracing.span(
    'quench.run.start',
    input.traceContext ?? rt.tracing.capture(),
    { 'quench.run.id': id, 'quench.playbook': definition.metadata.name, 'quench.correlation_id': correlationId },
    async (_s, carried) => carried,
  );
  const row = {
    id,
    playbook: definition.metadata.name,
    playbookHash: input.playbook.hash,
    definition,
    state: 'pending' as const,
    trigger: input.trigger ? JSON.parse(JSON.stringify(input.trigger)) : null,
    inputs,
    correlationId,
    drill: input.drill ?? null,
    startedBy: `${actor.type}:${actor.id}`,
    startedByAliases: starterAliasesOf(actor, input.starterAliases),
    traceContext,
    error: null,
    createdAt: now,
    updatedAt: now,
    endedAt: null,
  };
  const first = firstOf(definition.steps, { kind: 'top' });
  if (!('start' in first)) throw new QuenchError('validation_failed', `playbook '${row.playbook}' has no steps`);
  const slot = rt.handoff.reserve();
  let handed: ClaimedStep | undefined;
  let adopted = false;
  let state: RunRow['state'] = row.state;
  try {
    await rt.db.orm.transaction(async (tx) => {
      // Fresh per try (a transaction may be run again, src/db/prepared.ts): a rolled-back try's
      // claim and run state never happened.
      handed = undefined;
      adopted = false;
      const chain = slot && chainSlot(rt.options, slot.worker, now);
      const run = { ...row } as RunRow;
      // Insert-or-adopt: the unique start key makes a concurrent second start wait for the
      // first and then insert nothing, instead of creating a second run for the same alert.
      // The JSON columns come back as stored (jsonb's key order) for the handed step's snapshot.
      const [stored] = await tx
        .insert(engineRuns)
        .values({ ...row, startKey: input.startKey ?? null })
        .onConflictDoNothing({ target: engineRuns.startKey })
        .returning({ ...storedJson, definitionDigest: sql<string>`md5(${engineRuns.definition}::text)` });
      if (!stored) {
        adopted = true;
        return;
      }
      const started = {
        actor,
        action: 'run.started',
        subject: { type: 'run', id },
        data: {
          playbook: row.playbook,
          playbookHash: row.playbookHash,
          drill: row.drill,
          trigger: input.trigger ? { source: input.trigger.source, type: input.trigger.type, key: input.trigger.key } : null,
        },
        correlationId,
      };
      const pl = pipelineOn(tx);
      const report = await applyEffects(
        tx,
        { audit: rt.audit, catalog: rt.actions, now, pipeline: pl, ...(chain ? { chain } : {}) },
        run,
        [{ type: 'create', key: first.start, spec: { role: 'step' }, status: 'ready' }],
        actor,
        [started],
        // A new run has no rows but the ones created here: its state needs no read.
        new Map(),
      );
      state = report.runState;
      if (!chain?.claimed) return pl.settled();
      const { definition: _definition, ...lean } = row;
      const leanRun = { ...lean, ...stored, state, startKey: input.startKey ?? null } as LeanRun;
      const snapshot = { run: leanRun, rows: report.created, events: [] };
      // The first action's attempt starts in this commit too (prestart.ts), rendered on the run as stored.
      const prestart = prestartAttempt(rt, pl, { ...leanRun, definition } as RunRow, snapshot, chain.claimed, now);
      await pl.settled();
      const attempt = prestart && (await prestarted(prestart, snapshot));
      handed = { ...chain.claimed, snapshot, ...(attempt ? { started: attempt } : {}) };
    });
  } catch (err) {
    slot?.release();
    // Set only once the transaction's work was done: the COMMIT itself failed, and may have
    // landed with the first step claimed for this slot, which will not run it.
    if (handed) releaseInDoubt(rt, [handed], now);
    throw err;
  }
  if (handed) slot!.take(handed);
  else {
    slot?.release();
    if (!adopted) rt.wake.wake();
  }
  if (adopted) {
    const [existing] = await rt.db.orm.select().from(engineRuns).where(eq(engineRuns.startKey, input.startKey!)).limit(1);
    if (!existing) throw new QuenchError('conflict', `run with start key ${input.startKey} vanished while being adopted; retry`);
    return existing as unknown as RunRow;
  }
  return { ...row, state } as RunRow;
}

/** The run's JSON columns as the insert stored them. */
const storedJson = {
  trigger: engineRuns.trigger,
  inputs: engineRuns.inputs,
  drill: engineRuns.drill,
  traceContext: engineRuns.traceContext,
};

/**
 * Applies input defaults and refuses a run that names an unknown input, lacks a required one,
 * or gives one of the wrong type (the playbook core's rules, the same `quench validate` uses).
 */
export function resolveInputs(definition: Playbook, given: Record<string, unknown>): Record<string, unknown> {
  const resolved = resolvePlaybookInputs(definition, given);
  if (resolved.ok) return resolved.inputs;
  const declared = Object.keys(definition.inputs ?? {}).join(', ') || 'none';
  throw new QuenchError(
    'validation_failed',
    `playbook '${definition.metadata.name}' cannot start: ${resolved.problems.join('; ')} (it declares: ${declared})`,
  );
}

/** A user starter's names besides their id (deduplicated); null when there are none or the starter is a component. */
function starterAliasesOf(actor: Actor, aliases: string[] | undefined): string[] | null {
  if (actor.type !== 'user' || !aliases) return null;
  const others = [...new Set(aliases.filter((a) => a.toLowerCase() !== actor.id.toLowerCase()))];
  return others.length > 0 ? others : null;
}
