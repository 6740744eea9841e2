import { durationMs } from '../../playbooks/core/duration.js';
import type { Playbook } from '../../playbooks/core/model.js';

/**
 * A drill's scorecard, computed from the finished run alone (its pinned definition and its
 * step rows), so it is the same whenever and wherever it is computed. Pure: no clock, no I/O.
 */
export interface ScoreStep {
  key: string;
  kind: string;
  status: string;
  durationMs: number | null;
  /** A human step's `sla.within`, an action's `timeout`; null when the playbook sets none. */
  slaMs: number | null;
  breached: boolean;
  simulated: boolean;
  /** The failure injected by `fail=`. */
  injected: boolean;
  /** Attempts the step took (more than one: its retries were exercised). */
  attempts: number;
}

export type GapKind = 'no_owner' | 'no_compensation' | 'sla_breached';
export interface Gap {
  kind: GapKind;
  step: string;
  message: string;
}

export interface Scorecard {
  runId: string;
  playbook: string;
  finalState: string;
  startedAt: string;
  endedAt: string | null;
  timeToFirstAckMs: number | null;
  steps: ScoreStep[];
  failuresInjected: string[];
  /** Steps whose retries ran (more than one attempt). */
  retried: string[];
  /** Steps whose fallback ran. */
  fallbacks: string[];
  escalations: string[];
  compensations: Array<{ step: string; status: string; succeeded: boolean }>;
  gaps: Gap[];
}

export interface ScoredStepRow {
  key: string;
  kind: string;
  status: string;
  output: unknown;
  error: unknown;
  decision: unknown;
  attempts?: number | undefined;
  /** The step row's spec: a compensation's `order` is its place in the saga's undo plan. */
  spec?: unknown;
  createdAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
}

export interface ScoredRun {
  id: string;
  playbook: string;
  state: string;
  definition: Playbook;
  createdAt: Date;
  endedAt: Date | null;
  steps: ScoredStepRow[];
  /** When someone acknowledged the run (`/quench ack`, `quench ack`), if anyone did. */
  acknowledgedAt?: Date | null | undefined;
}

type AnyStep = Playbook['steps'][number];

/** Actions that only read or report: failing to undo them leaves nothing changed. */
const READ_ONLY_ACTIONS = new Set(['log', 'slo.check']);

export function scoreDrill(run: ScoredRun): Scorecard {
  const { defs, fallbackOwner } = flatten(run.definition.steps);
  const steps = run.steps.map((s) => scoreStep(s, defs.get(baseKey(s.key))));
  // The first acknowledgement: an explicit ack of the run, or the first decision of a human step.
  const firstAck = [...run.steps.filter((s) => s.kind === 'human').map((s) => firstDecisionAt(s.decision)), run.acknowledgedAt?.getTime() ?? null]
    .filter((t): t is number => t !== null)
    .sort((a, b) => a - b)[0];
  return {
    runId: run.id,
    playbook: run.playbook,
    finalState: run.state,
    startedAt: run.createdAt.toISOString(),
    endedAt: run.endedAt?.toISOString() ?? null,
    timeToFirstAckMs: firstAck === undefined ? null : firstAck - run.createdAt.getTime(),
    steps,
    failuresInjected: steps.filter((s) => s.injected).map((s) => s.key),
    retried: steps.filter((s) => s.attempts > 1).map((s) => s.key),
    fallbacks: fallbacksRun(run.steps, fallbackOwner),
    escalations: run.steps.filter((s) => s.key.endsWith('/escalate')).map((s) => s.key.replace(/\/escalate$/, '')),
    // In the order the saga ran them (its plan's `order`), not the order of their rows.
    compensations: run.steps
      .filter((s) => /\/compensate(\/manual)?$/.test(s.key))
      .sort((a, b) => planOrder(a) - planOrder(b))
      .map((s) => ({ step: s.key.replace(/\/compensate(\/manual)?$/, ''), status: s.status, succeeded: s.status === 'succeeded' })),
    gaps: [...definitionGaps(defs), ...steps.filter((s) => s.breached).map((s) => ({ kind: 'sla_breached' as const, step: s.key, message: `took ${seconds(s.durationMs)} against an SLA of ${seconds(s.slaMs)}` }))],
  };
}

function scoreStep(row: ScoredStepRow, def: AnyStep | undefined): ScoreStep {
  const start = row.startedAt ?? row.createdAt;
  const duration = row.endedAt ? row.endedAt.getTime() - start.getTime() : null;
  const slaText = def?.kind === 'human' ? def.sla?.within : def?.kind === 'action' && !row.key.includes('/') ? def.timeout : undefined;
  const slaMs = slaText ? durationMs(slaText) : null;
  return {
    key: row.key,
    kind: row.kind,
    status: row.status,
    durationMs: duration,
    slaMs,
    breached: slaMs !== null && duration !== null && duration > slaMs,
    simulated: (row.output as { simulated?: unknown } | null)?.simulated === true,
    injected: injectedError(row.error),
    attempts: row.attempts ?? 0,
  };
}

/** A failure `fail=` injected (src/drills/core/faults.ts): marked in its details, whatever code it carries. */
function injectedError(error: unknown): boolean {
  const e = error as { code?: unknown; details?: { injected?: unknown } } | null;
  return e?.details?.injected === true || e?.code === 'drill_failure';
}

/** Gaps the playbook itself has, whichever path the drill took. */
function definitionGaps(defs: Map<string, AnyStep>): Gap[] {
  const gaps: Gap[] = [];
  for (const [id, s] of defs) {
    if (s.kind === 'human' && !s.assign)
      gaps.push({ kind: 'no_owner', step: id, message: 'human step without assign: nobody in particular is asked to decide' });
    if (s.kind === 'action' && stateChanging(s) && !s.compensate)
      gaps.push({ kind: 'no_compensation', step: id, message: `'${s.action}' changes state (risk ${s.risk}) and has no compensate: a failure later cannot undo it` });
  }
  return gaps;
}

/** A compensation row's place in the undo plan; a manual step (`x/compensate/manual`) follows its compensation. */
function planOrder(row: ScoredStepRow): number {
  const order = (row.spec as { order?: unknown } | null | undefined)?.order;
  return (typeof order === 'number' ? order : Number.MAX_SAFE_INTEGER / 2) + (row.key.endsWith('/manual') ? 0.5 : 0);
}

/**
 * Whether a step changes the world. `drillSafe` is the author's word that the step only reads
 * (docs/drills.md: mark only read-only steps drillSafe), so it needs no compensation.
 */
function stateChanging(s: Extract<AnyStep, { kind: 'action' }>): boolean {
  if (READ_ONLY_ACTIONS.has(s.action) || s.drillSafe) return false;
  if (s.action === 'http.request') {
    const method = String((s.params as { method?: unknown }).method ?? 'POST').toUpperCase();
    return method !== 'GET' && method !== 'HEAD';
  }
  return true;
}

interface FlatSteps {
  defs: Map<string, AnyStep>;
  /** A step of a `fallback: {steps: [...]}` list → the step whose fallback it is. */
  fallbackOwner: Map<string, string>;
}

/**
 * Every step by id, the steps of parallel branches and of fallback lists included: fallback
 * steps run as rows of their own ids (src/engine/core/flow.ts), so their SLAs and gaps count
 * like any other step's.
 */
function flatten(steps: readonly AnyStep[], into: FlatSteps = { defs: new Map(), fallbackOwner: new Map() }, owner?: string): FlatSteps {
  for (const s of steps) {
    into.defs.set(s.id, s);
    if (owner !== undefined) into.fallbackOwner.set(s.id, owner);
    if (s.kind === 'parallel') for (const b of s.branches) flatten(b.steps as AnyStep[], into, owner);
    if (s.fallback?.steps) flatten(s.fallback.steps as AnyStep[], into, s.id);
  }
  return into;
}

/**
 * Steps whose fallback ran, in the order their fallbacks started. A `{action, params}` fallback
 * leaves a derived `x/fallback` row; a `{steps: [...]}` fallback leaves rows of its own steps,
 * so any row of such a step means its owner's fallback ran (and, when the owner itself sits in
 * a fallback list, the outer owner's too).
 */
function fallbacksRun(rows: readonly ScoredStepRow[], fallbackOwner: ReadonlyMap<string, string>): string[] {
  const ran = new Set<string>();
  for (const row of rows) {
    const direct = row.key.endsWith('/fallback') ? baseKey(row.key) : undefined;
    const owners = direct === undefined ? [] : [direct];
    // Outer owners first: their fallback started before the one nested in it.
    for (let o = fallbackOwner.get(direct ?? baseKey(row.key)); o !== undefined; o = fallbackOwner.get(o)) owners.unshift(o);
    for (const o of owners) ran.add(o);
  }
  return [...ran];
}

/** `x/compensate`, `x/escalate`, `x/fallback` → `x`. */
const baseKey = (key: string) => key.split('/')[0]!;

function firstDecisionAt(decision: unknown): number | null {
  const d = decision as { approvals?: Array<{ at?: string }>; final?: { at?: string } } | null;
  const times = [...(d?.approvals ?? []).map((a) => a.at), d?.final?.at].filter((t): t is string => typeof t === 'string').map(Date.parse);
  return times.length ? Math.min(...times) : null;
}

const seconds = (ms: number | null) => (ms === null ? '-' : `${Math.round(ms / 1000)}s`);

/** The scorecard as text for Slack and `quench runs show`. */
export function scorecardText(card: Scorecard): string {
  const lines = [
    `DRILL scorecard: ${card.playbook} ended ${card.finalState}`,
    `  time to first acknowledgement: ${card.timeToFirstAckMs === null ? 'no human step answered' : seconds(card.timeToFirstAckMs)}`,
    `  failures injected: ${card.failuresInjected.join(', ') || 'none'}`,
    `  retries exercised: ${(card.retried ?? []).join(', ') || 'none'}`,
    `  fallbacks: ${(card.fallbacks ?? []).join(', ') || 'none'}`,
    `  compensations: ${card.compensations.map((c) => `${c.step} ${c.succeeded ? 'succeeded' : c.status}`).join(', ') || 'none'}`,
    `  escalations: ${card.escalations.join(', ') || 'none'}`,
    '  steps:',
    ...card.steps.map(
      (s) =>
        `    ${s.key.padEnd(28)} ${s.status.padEnd(10)} ${seconds(s.durationMs).padStart(6)}${s.slaMs !== null ? ` / SLA ${seconds(s.slaMs)}${s.breached ? ' BREACHED' : ''}` : ''}${s.simulated ? ' (simulated)' : ''}${s.injected ? ' (injected failure)' : ''}`,
    ),
    `  gaps: ${card.gaps.length === 0 ? 'none' : ''}`,
    ...card.gaps.map((g) => `    ${g.kind} ${g.step}: ${g.message}`),
  ];
  return `${lines.join('\n')}\n`;
}
