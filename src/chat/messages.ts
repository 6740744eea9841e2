import { and, eq, inArray } from 'drizzle-orm';
import type { DecisionRecord } from '../engine/model.js';
import { readRun, stepsOf } from '../engine/sql/load.js';
import { terminalRunStates } from '../engine/core/states.js';
import { headerMessage, type RunHeader, type StepCard, stepMessage } from './core/blocks.js';
import { type Person, samePerson } from './core/decision-policy.js';
import { type ChatDeps, engineRows, type StoredView } from './deps.js';
import { mention } from './people.js';
import { chatHumanSteps } from './schema.js';
import { loadOffer, type OfferRow, refColumns, saveThread, thread, updateOffer } from './store.js';

/**
 * Rendering and posting: the incident thread's header and each human step's message. Messages
 * are always rebuilt from the database (never patched), so an update after a restart or from
 * another replica shows the same truth.
 */
type Trigger = {
  summary?: string;
  severity?: string;
  source?: string;
  type?: string;
  labels?: Record<string, string>;
  slo?: RunHeader['slo'];
};

function triggerLine(t: Trigger): string {
  return [t.summary ?? 'manual start', t.source ? `(${t.source}${t.type ? ` ${t.type}` : ''})` : ''].filter(Boolean).join(' ');
}

export async function ensureThread(deps: ChatDeps, runId: string): Promise<void> {
  if (!deps.chat.enabled || (await thread(deps.db, runId))) return;
  const { run } = await runRows(deps, runId);
  if (!run) return;
  let channel = run.definition.metadata.labels?.['slack-channel'] ?? deps.channel.fallback;
  if (deps.channel.perRun)
    channel = await deps.chat.createChannel(
      `inc-${run.playbook}-${run.id.slice(-8).toLowerCase()}`.replace(/[^a-z0-9_-]/g, '-').slice(0, 80),
      [],
    );
  if (!channel) return;
  const posted = await deps.chat.post(channel, headerMessage(await header(deps, runId)));
  if (posted) await saveThread(deps.db, { runId, channel: posted.channel, ts: posted.ts, updatedAt: deps.clock.now() });
}

export async function refreshHeader(deps: ChatDeps, runId: string): Promise<void> {
  if (!deps.chat.enabled) return;
  const t = await thread(deps.db, runId);
  if (t) await deps.chat.update({ channel: t.channel, ts: t.ts }, headerMessage(await header(deps, runId)));
}

async function runRows(deps: ChatDeps, runId: string) {
  return { run: await readRun(deps.db.orm, runId) };
}

async function header(deps: ChatDeps, runId: string): Promise<RunHeader> {
  const { run } = await runRows(deps, runId);
  const t = await thread(deps.db, runId);
  const trigger = (run?.trigger ?? {}) as Trigger;
  const now = deps.clock.now().getTime();
  const open = await deps.db.orm
    .select()
    .from(chatHumanSteps)
    .where(and(eq(chatHumanSteps.runId, runId), inArray(chatHumanSteps.status, ['offered', 'queued'])));
  return {
    runId,
    playbook: run?.playbook ?? 'run',
    summary: trigger.summary ?? run?.playbook ?? runId,
    severity: trigger.severity,
    state: run?.state ?? 'unknown',
    startedAt: run?.createdAt ?? new Date(now),
    trigger: triggerLine(trigger),
    slo: trigger.slo,
    acknowledgedBy: t?.acknowledgedBy ?? undefined,
    drill: run ? run.drill !== null : false,
    cancellable: run ? !terminalRunStates.has(run.state) : false,
    openSteps: open.map((o) => ({
      name: (o.view as StoredView).stepKey,
      waitingMs: now - (o.offeredAt ?? o.queuedAt).getTime(),
      withinMs: (o.sla as { withinMs?: number } | null)?.withinMs,
    })),
  };
}

/** Everything a reviewer needs on one card: trigger, evidence, the step, its risk and clock. */
export async function stepCard(deps: ChatDeps, offer: OfferRow): Promise<StepCard> {
  const view = offer.view as StoredView;
  const { step, run } = await engineRows(deps, offer.stepId);
  const trigger = (run?.trigger ?? {}) as Trigger;
  const record = (step?.decision ?? { approvals: [] }) as DecisionRecord;
  const who = (id: string) => {
    const p = offer.assignees.find((a) => samePerson(a, { aliases: [id] }));
    return p ? mention(p) : id.startsWith('U') ? `<@${id}>` : id;
  };
  const evidence: StepCard['evidence'] = [];
  for (const [k, v] of Object.entries(trigger.labels ?? {}).slice(0, 4)) evidence.push({ label: k, value: v });
  for (const [w, r] of Object.entries(trigger.slo?.burnRates ?? {})) evidence.push({ label: `burn ${w}`, value: `${r.toFixed(1)}×` });
  if (run) {
    for (const s of await stepsOf(deps.db.orm, run.id)) {
      if (s.status === 'succeeded' && s.output != null && s.id !== offer.stepId)
        evidence.push({ label: `${s.stepKey} output`, value: JSON.stringify(s.output).slice(0, 200) });
    }
  }
  const final = record.final as (DecisionRecord['final'] & { reason?: string }) | undefined;
  const now = deps.clock.now();
  let outcome: StepCard['outcome'];
  if (offer.status === 'decided' && final) {
    outcome = {
      state: final.outcome === 'reject' ? 'rejected' : 'approved',
      by: who(final.by),
      at: new Date(final.at),
      reason: final.reason,
    };
  } else if (offer.status === 'timed_out' || offer.status === 'cancelled') outcome = { state: offer.status, at: offer.decidedAt ?? now };
  return {
    stepId: offer.stepId,
    runId: run?.id,
    type: view.type,
    options: view.options,
    name: view.stepKey,
    prompt: view.prompt,
    description: view.description,
    risk: view.risk,
    trigger: triggerLine(trigger),
    evidence: evidence.slice(0, 10),
    assignees: offer.assignees.map(mention),
    requiredApprovals: view.requiredApprovals,
    approvals: (outcome ? [] : record.approvals).map((a) => ({ by: who(a.by), at: new Date(a.at), value: a.value })),
    waitingMs: now.getTime() - (offer.offeredAt ?? offer.queuedAt).getTime(),
    withinMs: (offer.sla as { withinMs?: number } | null)?.withinMs,
    outcome,
    escalated: offer.escalatedAt !== null,
    drill: run ? run.drill !== null : false,
  };
}

/** Posts the step's message in the run's thread, or as DMs to assignees when there is no thread. */
export async function postStepMessage(deps: ChatDeps, stepId: string): Promise<void> {
  if (!deps.chat.enabled) return;
  const offer = await loadOffer(deps.db.orm, stepId);
  if (!offer || offer.messages.length > 0) return;
  const message = stepMessage(await stepCard(deps, offer));
  const t = await thread(deps.db, offer.runId);
  const refs = [];
  if (t) {
    const ref = await deps.chat.post(t.channel, { ...message, text: `${offer.assignees.map(mention).join(' ')} ${message.text}` }, t.ts);
    if (ref) refs.push(ref);
  } else {
    for (const p of offer.assignees.filter((a) => a.slackId)) {
      const ref = await deps.chat.post(p.slackId!, message);
      if (ref) refs.push(ref);
    }
  }
  await updateOffer(deps.db.orm, stepId, refColumns(refs));
}

/** Rewrites the step's messages from the current state (no buttons once it is no longer waiting). */
export async function refreshStepMessage(deps: ChatDeps, stepId: string): Promise<void> {
  if (!deps.chat.enabled) return;
  const offer = await loadOffer(deps.db.orm, stepId);
  if (!offer) return;
  if (offer.messages.length === 0) return postStepMessage(deps, stepId);
  const message = stepMessage(await stepCard(deps, offer));
  for (const ref of offer.messages) await deps.chat.update(ref, message);
}

/** A short note in the run's thread (reminders, escalations), mentioning people. */
export async function threadNote(deps: ChatDeps, offer: OfferRow, text: string, people: Person[]): Promise<void> {
  if (!deps.chat.enabled) return;
  const t = await thread(deps.db, offer.runId);
  const line = `${people.map(mention).join(' ')} ${text}`.trim();
  if (t) await deps.chat.post(t.channel, { text: line }, t.ts);
  else for (const p of people.filter((a) => a.slackId)) await deps.chat.post(p.slackId!, { text: line });
}
