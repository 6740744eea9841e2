import { randomUUID } from 'node:crypto';
import type { AuditTrail } from '../audit/trail.js';
import type { Clock } from '../core/clock.js';
import { QuenchError } from '../core/errors.js';
import type { Database, Executor } from '../db/database.js';
import type { SloStatus } from '../slo/core/status.js';
import type { Logger } from '../telemetry/logger.js';
import type { Announcer } from './announce.js';
import { decide, describeAnswer, type GateAnswer } from './core/decide.js';
import { type Actor, type Freeze, type Override, publicOverride, type Risk } from './core/model.js';
import { approve } from './core/override.js';
import { type ExpiryMark, stepFreeze } from './core/policy.js';
import { parseUntil } from './core/until.js';
import type { GateMemory } from './state.js';
import { readingOf } from './state.js';
import * as store from './store.js';

export interface DeployGateDeps {
  db: Database;
  audit: AuditTrail;
  clock: Clock;
  logger: Logger;
  memory: GateMemory;
  announcer: Announcer;
  /** Services named by the loaded SLO files (every replica loads them). */
  knownServices: () => ReadonlySet<string>;
  /** Slack channel when no SLO of a service names its owner's. */
  fallbackChannel: string | undefined;
}

/** `lifted_by` of an automatic freeze that ended by expiry (store.lastAutoExpiries reads it). */
export const EXPIRY_LIFTER = store.EXPIRY_LIFTER;

const SYSTEM = { type: 'system', id: 'deploy-gate' } as const;
const user = (id: string) => (id.startsWith('run:') ? ({ type: 'system', id } as const) : ({ type: 'user', id } as const));

/**
 * The deploy gate's operations. Answers come from memory (GateMemory); every change is one short
 * transaction with its audit entry, then a NOTIFY so all replicas reload, then the announcement.
 */
export class DeployGate {
  constructor(private readonly d: DeployGateDeps) {}

  /** The answer for a deploy, from memory. Unknown services are refused: a typo must not pass. */
  answer(service: string, risk: Risk, changeId: string | undefined): GateAnswer {
    this.#requireService(service);
    return decide(this.d.memory.state, { service, risk, changeId, nowMs: this.d.clock.now().getTime() });
  }

  /** Every blocked answer is audited with the change id, so a halted deploy leaves a trace. */
  async recordBlocked(answer: GateAnswer, asker: string | undefined): Promise<void> {
    if (answer.allowed) return;
    await this.d.audit.append({
      actor: asker ? user(asker) : { type: 'system', id: 'anonymous' },
      action: 'gate.blocked',
      subject: { type: 'service', id: answer.service },
      data: { change: answer.change, risk: answer.risk, freezes: answer.freezes.map((f) => f.id), reasons: answer.reasons.map((r) => r.message) },
    });
  }

  async freeze(input: { services: string[]; reason: string; until: string; by: string; runId?: string; id?: string }): Promise<Freeze> {
    const now = this.d.clock.now();
    if (input.id) {
      // A retried playbook step: the freeze it made on an earlier attempt is the answer.
      const earlier = await store.findFreeze(this.d.db.orm, input.id);
      if (earlier) return earlier;
    }
    if (!input.reason.trim()) throw new QuenchError('validation_failed', 'a freeze needs a reason (shown to everyone it blocks)');
    if (input.services.length === 0) throw new QuenchError('validation_failed', "name at least one service, or '*' for every service");
    for (const s of input.services) if (s !== '*') this.#requireService(s);
    const until = parseUntil(input.until, now.getTime());
    if (!until.ok) throw new QuenchError('validation_failed', `until: ${until.message}`);
    const freeze: Freeze = {
      id: input.id ?? `frz_${randomUUID().slice(0, 8)}`,
      kind: 'manual',
      services: [...new Set(input.services)],
      slo: null,
      blocks: 'high',
      reason: input.reason.trim(),
      evidence: input.runId ? { run: input.runId } : {},
      createdBy: input.by,
      createdAt: now.toISOString(),
      until: until.at.toISOString(),
    };
    await this.#change(async (tx) => {
      await store.insertFreeze(tx, freeze, input.runId);
      await this.d.audit.append({ actor: user(input.by), action: 'gate.freeze', subject: { type: 'freeze', id: freeze.id }, data: { ...freeze } }, tx);
    });
    await this.#announce(freeze.services, `:snowflake: Deploy freeze ${freeze.id} on ${scope(freeze)} by ${input.by} until ${freeze.until}: ${freeze.reason}`, { freeze });
    return freeze;
  }

  async unfreeze(id: string, by: string, reason = 'lifted by hand'): Promise<Freeze> {
    const found = await store.findFreeze(this.d.db.orm, id);
    if (!found) throw new QuenchError('not_found', `no freeze ${id}; GET /v1/freezes lists the open ones`);
    if (found.liftedAt) throw new QuenchError('conflict', `freeze ${id} was already lifted at ${found.liftedAt}`);
    if (found.kind === 'auto')
      throw new QuenchError(
        'conflict',
        `freeze ${id} is the error budget policy's for SLO ${found.slo}: it lifts itself when the budget recovers; request an override for one change instead`,
      );
    const lifted = await this.#lift(found, by, reason);
    if (!lifted) throw new QuenchError('conflict', `freeze ${id} was lifted meanwhile`);
    return lifted;
  }

  /** deploy.unfreeze: lifts every open freeze a playbook run made (its compensation). */
  async unfreezeRun(runId: string): Promise<Freeze[]> {
    const out: Freeze[] = [];
    for (const f of await store.openFreezesOfRun(this.d.db.orm, runId)) {
      const lifted = await this.#lift(f, `run:${runId}`, 'the playbook run lifted it');
      if (lifted) out.push(lifted);
    }
    return out;
  }

  async requestOverride(input: { service: string; changeId: string | undefined; until: string; reason: string; by: Actor }): Promise<Override> {
    const by = input.by.name;
    const now = this.d.clock.now();
    this.#requireService(input.service);
    if (!input.reason.trim()) throw new QuenchError('validation_failed', 'an override needs a reason');
    const until = parseUntil(input.until, now.getTime());
    if (!until.ok) throw new QuenchError('validation_failed', `until: ${until.message}`);
    const o: Override = {
      id: `ovr_${randomUUID().slice(0, 8)}`,
      service: input.service,
      changeId: input.changeId ?? null,
      reason: input.reason.trim(),
      requestedBy: by,
      approvers: [],
      requesterAliases: [...new Set([by, ...input.by.aliases])],
      approverAliases: [],
      createdAt: now.toISOString(),
      until: until.at.toISOString(),
    };
    await this.#change(async (tx) => {
      await store.insertOverride(tx, o);
      await this.d.audit.append({ actor: user(by), action: 'gate.override.requested', subject: { type: 'override', id: o.id }, data: { ...o } }, tx);
    });
    await this.#announce([o.service], `:key: ${by} asks for override ${o.id} of ${o.service}'s freeze for ${o.changeId ? `change ${o.changeId}` : 'every change'} until ${o.until}: ${o.reason}. Two other people must approve.`, { override: publicOverride(o) });
    return o;
  }

  async approveOverride(id: string, actor: Actor): Promise<Override> {
    const by = actor.name;
    const found = await store.findOverride(this.d.db.orm, id);
    if (!found || found.ended) throw new QuenchError('not_found', `no open override ${id}`);
    const result = approve(found, actor, this.d.clock.now().getTime());
    if (!result.ok) {
      // A refused approval is audited: a four-eyes bypass attempt must leave a trace.
      await this.d.audit.append({
        actor: user(by),
        action: 'gate.override.refused',
        subject: { type: 'override', id },
        data: { code: result.code, reason: result.message, aliases: actor.aliases },
      });
      throw new QuenchError(result.code, result.message);
    }
    // `ended` is the store's, not the override's: spread, it reached the API answer and the announcement.
    const { ended: _ended, ...open } = found;
    const updated: Override = { ...open, approvers: result.approvers, approverAliases: result.approverAliases };
    await this.#change(async (tx) => {
      if (!(await store.setApprovers(tx, id, found.approvers, result.approvers, result.approverAliases)))
        throw new QuenchError('conflict', `override ${id} changed meanwhile; try again`);
      await this.d.audit.append(
        { actor: user(by), action: 'gate.override.approved', subject: { type: 'override', id }, data: { approvers: result.approvers, complete: result.complete } },
        tx,
      );
    });
    const what = result.complete ? `is in force until ${found.until}` : `needs one more approver`;
    await this.#announce([found.service], `:key: ${by} approved override ${id} of ${found.service}; it ${what}`, { override: publicOverride(updated) });
    return updated;
  }

  /** Leader only: store the cycle's statuses for every replica, then apply each SLO's policy. */
  async observe(statuses: SloStatus[]): Promise<void> {
    const now = this.d.clock.now();
    await store.saveBudgets(this.d.db, statuses, now);
    const expiries = statuses.some((s) => s.policy.freezeExpiresAfterMs !== null) ? await store.lastAutoExpiries(this.d.db.orm) : new Map<string, ExpiryMark>();
    for (const status of statuses) {
      const reading = readingOf(status);
      // Only the leader writes automatic freezes and it reloads after each, so memory is current.
      const active = this.d.memory.freezes.find((f) => f.kind === 'auto' && f.slo === status.name);
      const lastExpiry = expiries.get(status.name);
      const step = stepFreeze(reading, active, { nowMs: now.getTime(), ...(lastExpiry ? { lastExpiry } : {}) });
      const evidence = {
        slo: status.name,
        budgetRemaining: reading.budgetRemaining,
        burnRates: reading.burnRates,
        timeToExhaustionSeconds: reading.timeToExhaustionSeconds,
        pageAlert: reading.page,
        evaluatedAt: reading.evaluatedAt,
        policy: reading.policy,
      };
      if (step.action === 'freeze') {
        const freeze: Freeze = {
          id: `frz_${randomUUID().slice(0, 8)}`,
          kind: 'auto',
          services: [status.service],
          slo: status.name,
          blocks: step.blocks,
          reason: step.reasons.join('; '),
          evidence,
          createdBy: 'error-budget-policy',
          createdAt: now.toISOString(),
          until: reading.policy.freezeExpiresAfterMs === null ? null : new Date(now.getTime() + reading.policy.freezeExpiresAfterMs).toISOString(),
        };
        const made = await this.#change(async (tx) => {
          await store.insertFreeze(tx, freeze);
          await this.d.audit.append({ actor: SYSTEM, action: 'gate.freeze', subject: { type: 'freeze', id: freeze.id }, data: { ...freeze } }, tx);
        }).then(
          () => true,
          (err) => {
            // 23505: another leader froze this SLO first (the unique open-auto index); fine.
            if (sqlState(err) === '23505') return false;
            throw err;
          },
        );
        if (made)
          await this.#announce([status.service], `:snowflake: ${status.service} is frozen for ${freeze.blocks === 'all' ? 'every' : 'high-risk'} deploy: SLO ${status.name}: ${freeze.reason}`, { freeze });
      } else if (step.action === 'expire' && active) {
        // The mark goes onto the freeze row with the lift, so any later leader applies the cool-down.
        await this.#lift(active, EXPIRY_LIFTER, step.reasons.join('; '), { ...evidence, expiry: step.mark });
      } else if (step.action === 'lift' && active) {
        await this.#lift(active, 'error-budget-policy', step.reasons.join('; '), evidence);
      } else if (step.action === 'reblock' && active) {
        await this.#change(async (tx) => {
          await store.setBlocks(tx, active.id, step.blocks, step.reasons.join('; '));
          await this.d.audit.append({ actor: SYSTEM, action: 'gate.freeze.changed', subject: { type: 'freeze', id: active.id }, data: { blocks: step.blocks, evidence } }, tx);
        });
        await this.#announce([status.service], `:snowflake: freeze ${active.id} of ${status.service} now blocks ${step.blocks === 'all' ? 'every' : 'high-risk'} deploy: ${step.reasons.join('; ')}`, { freeze: active.id, evidence });
      }
    }
    // An SLO removed from the files must not keep its service frozen for ever.
    const names = statuses.map((s) => s.name);
    for (const f of await store.orphanedAutoFreezes(this.d.db.orm, names)) await this.#lift(f, 'error-budget-policy', `SLO ${f.slo} is no longer defined`);
    await store.deleteBudgetsExcept(this.d.db.orm, names);
    await this.d.db.notify(store.GATE_CHANNEL, 'budgets');
    // The leader decides the next cycle from its memory: current before the cycle ends.
    await this.d.memory.refresh();
  }

  /**
   * Leader only: ends what expired (manual freezes, overrides) and announces it. Automatic freezes
   * expire in observe(), at the first evaluation at or after their `until`, with its evidence.
   */
  async sweep(): Promise<void> {
    const now = this.d.clock.now();
    for (const f of await store.expiredFreezes(this.d.db.orm, now)) if (f.kind !== 'auto') await this.#lift(f, 'deploy-gate', `expired at ${f.until}`);
    const ended = await store.endExpiredOverrides(this.d.db.orm, now);
    for (const o of ended) {
      await this.d.audit.append({ actor: SYSTEM, action: 'gate.override.ended', subject: { type: 'override', id: o.id }, data: { until: o.until } });
      await this.#announce([o.service], `:key: override ${o.id} of ${o.service} ended at ${o.until}`, { override: publicOverride(o) });
    }
    if (ended.length > 0) await this.d.db.notify(store.GATE_CHANNEL, 'overrides');
  }

  /** The freeze lines `/quench status` and `quench slo status` show. */
  describeFreezes(): string[] {
    return this.d.memory.freezes.map(
      (f) => `${f.id} ${scope(f)} (${f.kind}, blocks ${f.blocks === 'all' ? 'every' : 'high-risk'} deploy${f.until ? `, until ${f.until}` : ''}): ${f.slo ? `SLO ${f.slo}: ` : ''}${f.reason}`,
    );
  }

  /** Open freezes and overrides as every replica holds them. */
  describeState(): { freezes: readonly Freeze[]; overrides: readonly Override[] } {
    return { freezes: this.d.memory.freezes, overrides: this.d.memory.overrides };
  }

  describe(answer: GateAnswer): string {
    return describeAnswer(answer);
  }

  async #lift(f: Freeze, by: string, reason: string, evidence?: Record<string, unknown>): Promise<Freeze | undefined> {
    const now = this.d.clock.now();
    let lifted: Freeze | undefined;
    await this.#change(async (tx) => {
      lifted = await store.liftFreeze(tx, f.id, by, reason, now, evidence?.expiry ? { ...f.evidence, expiry: evidence.expiry } : undefined);
      if (lifted)
        await this.d.audit.append(
          { actor: user(by), action: 'gate.lift', subject: { type: 'freeze', id: f.id }, data: { reason, services: f.services, slo: f.slo, ...(evidence ? { evidence } : {}) } },
          tx,
        );
    });
    if (lifted) await this.#announce(f.services, `:sunny: Deploy freeze ${f.id} on ${scope(f)} lifted: ${reason}`, { freeze: f.id, reason, ...(evidence ? { evidence } : {}) });
    return lifted;
  }

  async #change<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    const out = await this.d.db.orm.transaction(async (tx) => fn(tx));
    await this.d.db.notify(store.GATE_CHANNEL, 'change');
    await this.d.memory.refresh();
    return out;
  }

  async #announce(services: string[], text: string, details: Record<string, unknown>): Promise<void> {
    const channels = new Set<string>();
    for (const s of this.d.memory.statuses) {
      if ((services.includes('*') || services.includes(s.service)) && s.owner?.slack) channels.add(s.owner.slack);
    }
    if (channels.size === 0 && this.d.fallbackChannel) channels.add(this.d.fallbackChannel);
    await this.d.announcer.announce({ text, channels: [...channels], details, at: this.d.clock.now() });
  }

  #requireService(service: string): void {
    const known = this.d.knownServices();
    if (known.has(service) || this.d.memory.statuses.some((s) => s.service === service)) return;
    const list = [...known].sort();
    throw new QuenchError(
      'not_found',
      `unknown service '${service}': no SLO names it${list.length ? `; known services: ${list.slice(0, 30).join(', ')}` : ''}. A deploy gate must not pass on a typo.`,
    );
  }
}

const scope = (f: Pick<Freeze, 'services'>) => (f.services.includes('*') ? 'every service' : f.services.join(', '));

function sqlState(err: unknown): string | undefined {
  const e = err as { code?: string; cause?: { code?: string } };
  return e.cause?.code ?? e.code;
}

