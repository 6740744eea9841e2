import { desc, eq, inArray, notInArray } from 'drizzle-orm';
import { terminalRunStates } from '../../engine/core/states.js';
import { engineRuns } from '../../engine/schema.js';
import { sloAlertStates } from '../../slo/schema.js';
import type { ChatDeps } from '../deps.js';
import { GATE_USAGE } from '../../gate/slack.js';
import { refreshHeader } from '../messages.js';
import { chatHumanSteps } from '../schema.js';
import { acknowledgeThread } from '../store.js';
import type { SlashCommandPayload } from './payloads.js';

/**
 * `/quench status | runs | ack RUN`. Answers are computed from the database within Slack's
 * 3-second ack and returned in it (ephemeral), so no follow-up call is needed.
 */
const USAGE =
  'Usage: `/quench status` (open runs, firing SLOs, waiting steps, deploy freezes) · `/quench runs` (recent runs) · `/quench ack RUN` (acknowledge a run) · ' +
  GATE_USAGE;

export async function slashCommand(deps: ChatDeps, cmd: SlashCommandPayload): Promise<string> {
  const [sub = '', ...rest] = cmd.text.trim().split(/\s+/);
  switch (sub.toLowerCase()) {
    case 'status':
      return status(deps);
    case 'runs':
      return runs(deps);
    case 'ack':
      return ack(deps, rest[0], cmd.user_id, cmd.user_name);
    case 'freeze':
    case 'unfreeze':
    case 'override':
    case 'gate':
      return deps.gate?.()?.slash(sub.toLowerCase(), rest, cmd.user_id) ?? 'The deploy gate is not running in this service.';
    default:
      return USAGE;
  }
}

async function status(deps: ChatDeps): Promise<string> {
  const open = await deps.db.orm
    .select({ id: engineRuns.id, playbook: engineRuns.playbook, state: engineRuns.state })
    .from(engineRuns)
    .where(notInArray(engineRuns.state, [...terminalRunStates]))
    .orderBy(desc(engineRuns.createdAt))
    .limit(20);
  const waiting = await deps.db.orm
    .select({ stepId: chatHumanSteps.stepId, runId: chatHumanSteps.runId, status: chatHumanSteps.status })
    .from(chatHumanSteps)
    .where(inArray(chatHumanSteps.status, ['offered', 'queued']));
  const firing = await deps.db.orm.select().from(sloAlertStates).where(eq(sloAlertStates.status, 'firing'));
  const lines = [
    `*Open runs (${open.length}):*`,
    ...open.map((r) => `• \`${r.id}\` ${r.playbook}: ${r.state}`),
    `*Human steps waiting (${waiting.length}):* ${waiting.map((w) => `\`${w.stepId}\`${w.status === 'queued' ? ' (queued)' : ''}`).join(', ') || 'none'}`,
    `*Firing SLO alerts (${firing.length}):* ${firing.map((f) => `${f.slo} (${f.severity}) since ${f.since.toISOString()}`).join(', ') || 'none'}`,
    ...(deps.gate?.()?.statusLines() ?? ['Deploy freezes: `quench gate check SERVICE` or `GET /v1/deploy-gate`.']),
  ];
  return lines.join('\n');
}

async function runs(deps: ChatDeps): Promise<string> {
  const rows = await deps.db.orm
    .select({ id: engineRuns.id, playbook: engineRuns.playbook, state: engineRuns.state, createdAt: engineRuns.createdAt })
    .from(engineRuns)
    .orderBy(desc(engineRuns.createdAt))
    .limit(10);
  if (rows.length === 0) return 'No runs yet.';
  return rows.map((r) => `• \`${r.id}\` ${r.playbook}: ${r.state} (started ${r.createdAt.toISOString()})`).join('\n');
}

async function ack(deps: ChatDeps, runId: string | undefined, userId: string, userName: string | undefined): Promise<string> {
  if (!runId) return USAGE;
  const [run] = await deps.db.orm
    .select({ id: engineRuns.id, correlationId: engineRuns.correlationId })
    .from(engineRuns)
    .where(eq(engineRuns.id, runId));
  if (!run) return `No run \`${runId}\`. \`/quench runs\` lists recent runs.`;
  const now = deps.clock.now();
  const who = userName ? `${userName} (<@${userId}>)` : `<@${userId}>`;
  const first = await acknowledgeThread(deps.db, runId, who, now);
  await deps.audit.append({
    actor: { type: 'user', id: userId },
    action: 'run.acknowledged',
    subject: { type: 'run', id: runId },
    data: { slackUserId: userId, name: userName ?? userId, first },
    correlationId: run.correlationId,
  });
  if (first) await refreshHeader(deps, runId);
  return first
    ? `Run \`${runId}\` acknowledged.`
    : `Run \`${runId}\` was already acknowledged (or has no incident thread); recorded your acknowledgement in the audit trail.`;
}
