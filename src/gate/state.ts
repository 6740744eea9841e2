import type { Database } from '../db/database.js';
import type { Logger } from '../telemetry/logger.js';
import type { SloStatus } from '../slo/core/status.js';
import type { BudgetReading, Freeze, Override } from './core/model.js';
import type { GateState } from './core/decide.js';
import { GATE_CHANNEL, loadState } from './store.js';

/** The gate's narrow reading of an SLO status (the only place that knows the status shape). */
export function readingOf(s: SloStatus): BudgetReading {
  const current = s.burnRates['1h'] !== undefined ? s.burnRates['1h'] : (Object.values(s.burnRates)[0] ?? null);
  return {
    slo: s.name,
    service: s.service,
    ...(s.owner ? { owner: s.owner } : {}),
    state: s.state,
    evaluatedAt: s.evaluatedAt,
    budgetRemaining: s.errorBudget.remaining,
    burnRates: s.burnRates,
    currentBurn: current ?? null,
    timeToExhaustionSeconds: s.timeToExhaustionSeconds,
    page: s.alerts.page.status,
    policy: s.policy,
  };
}

/**
 * The stored gate state held in memory: every request is answered from here, never from the
 * database or Prometheus. Refreshed when another replica (or this one) NOTIFYs a change, and by
 * a short poll as a backstop (PGlite, or a missed notification during a reconnect).
 */
export class GateMemory {
  #state: GateState & { statuses: SloStatus[] } = { freezes: [], overrides: [], budgets: new Map(), statuses: [] };
  #refreshing: Promise<void> | undefined;
  #again = false;
  #wantBudgets = false;
  #polls = 0;
  #unlisten: (() => Promise<void>) | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
  ) {}

  get state(): GateState {
    return this.#state;
  }

  get statuses(): SloStatus[] {
    return this.#state.statuses;
  }

  get freezes(): readonly Freeze[] {
    return this.#state.freezes;
  }

  get overrides(): readonly Override[] {
    return this.#state.overrides;
  }

  /**
   * Reloads now; concurrent calls coalesce into one more reload after the running one. The
   * backstop poll passes `budgets: false`: freezes and overrides (what answers depend on) are
   * re-read every poll, the statuses (large, one per SLO) on NOTIFY and every tenth poll.
   */
  refresh(options: { budgets: boolean } = { budgets: true }): Promise<void> {
    if (options.budgets) this.#wantBudgets = true;
    if (this.#refreshing) {
      this.#again = true;
      return this.#refreshing;
    }
    this.#refreshing = (async () => {
      do {
        this.#again = false;
        const budgets = this.#wantBudgets;
        this.#wantBudgets = false;
        const stored = await loadState(this.db, { budgets });
        const statuses = stored.statuses ?? this.#state.statuses;
        this.#state = {
          freezes: stored.freezes,
          overrides: stored.overrides,
          budgets: stored.statuses ? new Map(statuses.map((s) => [s.name, readingOf(s)])) : this.#state.budgets,
          statuses,
        };
      } while (this.#again);
    })().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async start(pollMs: number): Promise<void> {
    await this.refresh();
    this.#unlisten = await this.db.listen(GATE_CHANNEL, () => void this.#safeRefresh());
    this.#timer = setInterval(() => void this.#safeRefresh(++this.#polls % 10 === 0), pollMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#unlisten?.().catch(() => {});
    await this.#refreshing?.catch(() => {});
  }

  #safeRefresh(budgets = true): Promise<void> {
    return this.refresh({ budgets }).catch((err) => this.logger.warn({ err: (err as Error).message }, 'deploy gate refresh failed; serving the last state'));
  }
}
