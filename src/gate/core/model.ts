import type { AlertStatus } from '../../slo/core/alerts.js';
import type { BudgetPolicy } from '../../slo/core/model.js';

/**
 * The deploy gate's vocabulary. `high` is every ordinary deploy; `low` is what fixes things
 * (rollbacks, security fixes, config reverts), which Google's policy lets through a freeze.
 */
export type Risk = 'low' | 'high';
export const risks: readonly Risk[] = ['low', 'high'];

/** What a freeze blocks: `high`-risk changes only, or every change. */
export type Blocks = 'high' | 'all';

/** The narrow view of one SLO evaluation the gate decides on (read from the SLO status). */
export interface BudgetReading {
  slo: string;
  service: string;
  owner?: { team?: string; slack?: string };
  /** Only `ok` readings move a freeze; no data or a failed evaluation holds the current state. */
  state: 'ok' | 'no_data' | 'error' | 'not_evaluated';
  evaluatedAt: string | null;
  budgetRemaining: number | null;
  burnRates: Record<string, number | null>;
  /** The fastest page window's burn (what time to exhaustion uses). */
  currentBurn: number | null;
  timeToExhaustionSeconds: number | null;
  page: AlertStatus;
  policy: BudgetPolicy;
}

export interface Freeze {
  id: string;
  /** `auto`: the budget policy froze one SLO's service; `manual`: a person or a playbook did. */
  kind: 'auto' | 'manual';
  /** Services it applies to; `*` is every service. */
  services: string[];
  slo: string | null;
  blocks: Blocks;
  reason: string;
  evidence: Record<string, unknown>;
  createdBy: string;
  createdAt: string;
  /** When it ends on its own; null: auto freezes end on recovery. */
  until: string | null;
}

export interface Override {
  id: string;
  service: string;
  /** null: every change of the service. */
  changeId: string | null;
  reason: string;
  requestedBy: string;
  approvers: string[];
  /** Every name the requester is known by (see Actor). */
  requesterAliases: string[];
  /** Per approver, in `approvers` order, every name they are known by. */
  approverAliases: string[][];
  createdAt: string;
  until: string;
}

/**
 * Who acts on the gate: `name` is shown and audited; `aliases` are every name the person is
 * known by (token user; Slack id, `slack:<id>` and profile email), compared case-insensitively.
 */
export interface Actor {
  name: string;
  aliases: string[];
}

/** An override as the API and announcements show it: aliases (emails) stay in the store and the audit trail. */
export type PublicOverride = Omit<Override, 'requesterAliases' | 'approverAliases'>;
export const publicOverride = ({ requesterAliases: _r, approverAliases: _a, ...o }: Override): PublicOverride => o;

/** Distinct approvers, other than the requester, an override needs (four-eyes). */
export const OVERRIDE_APPROVALS = 2;

export const appliesTo = (freeze: Pick<Freeze, 'services'>, service: string) =>
  freeze.services.includes('*') || freeze.services.includes(service);

export const isActive = (until: string | null, nowMs: number) => until === null || Date.parse(until) > nowMs;
