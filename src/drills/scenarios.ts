import { randomBytes, randomUUID } from 'node:crypto';
import type { AuditTrail } from '../audit/trail.js';
import { QuenchError } from '../core/errors.js';
import { formatProblem, type Problem } from '../definitions/problem.js';
import { listYamlFiles, readYamlFile, zodProblems } from '../definitions/source.js';
import { matches } from '../ingest/core/route.js';
import { checkFaults, type StartedRun } from '../runs/start.js';
import type { ArmedScenario, ScenarioStart } from '../runs/control.js';
import type { ServiceContext } from '../service.js';
import type { Slo } from '../slo/core/model.js';
import { loadSlos } from '../slo/definitions.js';
import { SloEvaluator } from '../slo/evaluator.js';
import { syntheticSource } from '../slo/sources/synthetic.js';
import type { TriggerEvent } from '../triggers/event.js';
import { type ArmedEnd, type ArmedRow, claimArmed, endArmed, insertArmed, markFiring, releaseArmed } from './armed-store.js';
import { type DrillScenario, drillScenarioSchema, drillSlo, toScenario } from './core/scenario.js';

/**
 * Scenario drills: a DrillScenario (QUENCH_DRILL_DIR) armed by `/drill … scenario=NAME`,
 * `quench drill --scenario NAME` or `POST /v1/runs` runs its own SLO evaluator (the real one's
 * maths and alert state machine) over the scenario's synthetic script. When that evaluator's
 * burn alert fires and matches the playbook's trigger, the playbook starts as a DRILL run whose
 * trigger is the burn event. The drill's evaluator has no store, no metrics and no observers:
 * its statuses never reach `ports.slo`, the deploy gate, freezes or the SLO tables; its audit
 * entries are `drill.slo.alert.*`.
 *
 * An armed scenario is a row (drill_armed_scenarios) leased to one replica, which evaluates it.
 * A replica that stops hands its rows back; one that dies lets the lease run out. Whoever takes
 * a row over rebuilds the evaluator from the scenario file and the arming time (the synthetic
 * script is anchored there, so it reads the same figures; an alert's `for:` starts over), and
 * the run starts under the start key `drill:<id>`, so two replicas that both fire make one run.
 */
interface Armed {
  id: string;
  scenario: DrillScenario;
  start: ScenarioStart;
  evaluator: SloEvaluator;
  armedAt: number;
  expiresAt: number;
  nextAt: number;
  fired: StartedRun | undefined;
  correlationId: string;
}

/** What a scenario start resolves to against the files and playbooks loaded now. */
interface Resolved {
  scenario: DrillScenario;
  copy: Slo;
}

export function loadScenarios(dir: string): { scenarios: Map<string, DrillScenario>; problems: Problem[] } {
  const scenarios = new Map<string, DrillScenario>();
  const problems: Problem[] = [];
  for (const file of listYamlFiles([dir])) {
    const parsed = readYamlFile(file);
    problems.push(...parsed.problems);
    for (const doc of parsed.documents) {
      if ((doc.value as { kind?: unknown } | null)?.kind !== 'DrillScenario') continue;
      const r = drillScenarioSchema.safeParse(doc.value);
      if (!r.success) problems.push(...zodProblems(doc, r.error));
      else if (scenarios.has(r.data.metadata.name)) problems.push(doc.problem(['metadata', 'name'], `scenario '${r.data.metadata.name}' is defined twice`));
      else scenarios.set(r.data.metadata.name, toScenario(r.data));
    }
  }
  return { scenarios, problems };
}

/** Audit entries of the drill's evaluator, renamed and marked so nobody reads them as a real alert. */
function drillAudit(audit: AuditTrail, armedId: string, scenario: string): Pick<AuditTrail, 'append'> {
  return {
    append: (input, executor) => audit.append({ ...input, action: `drill.${input.action}`, data: { ...(input.data as object), drill: true, scenario, armedId } }, executor),
  };
}

export class ScenarioDrills {
  readonly #armed = new Map<string, Armed>();
  /** Ids being armed by `start` right now: a concurrent tick neither adopts nor drops them. */
  readonly #arming = new Set<string>();
  readonly #owner = `${process.pid}-${randomBytes(4).toString('hex')}`;
  /** Ticks run one after another: two at once would both adopt a row and build two evaluators. */
  #ticks: Promise<unknown> = Promise.resolve();

  /** `leaseMs`: how long a replica that stopped ticking keeps its armed scenarios from the others. */
  constructor(
    private readonly ctx: ServiceContext,
    private readonly leaseMs: number,
  ) {}

  /** Arms a scenario; the run starts when its alert fires (`tick`). */
  async start(start: ScenarioStart): Promise<ArmedScenario> {
    const { ctx } = this;
    const { scenario, copy } = this.#resolve(start);
    const id = randomUUID();
    const now = ctx.clock.now();
    const armed = this.#arm({ id, start, correlationId: randomUUID(), armedAt: now }, { scenario, copy }, now);
    this.#arming.add(id);
    try {
      await ctx.db.orm.transaction(async (tx) => {
        await insertArmed(
          tx,
          { id, scenario: scenario.name, playbook: start.playbook, start, correlationId: armed.correlationId, armedAt: now, expiresAt: new Date(armed.expiresAt), owner: this.#owner },
          this.leaseMs,
        );
        await ctx.audit.append(
          {
            actor: { type: 'user', id: start.user },
            action: 'drill.scenario.armed',
            subject: { type: 'drill_scenario', id },
            data: { drill: true, scenario: scenario.name, playbook: start.playbook, slo: copy.name, fail: scenario.fail, via: start.via, responseDelays: scenario.delaysMs },
            correlationId: armed.correlationId,
          },
          tx,
        );
      });
      this.#armed.set(id, armed);
    } finally {
      this.#arming.delete(id);
    }
    await this.#evaluate(armed);
    const fired = armed.fired as StartedRun | undefined;
    return {
      armed: true,
      id,
      message: fired
        ? `:test_tube: DRILL scenario *${scenario.name}* armed; its burn alert on ${copy.name} fired at once and started DRILL run \`${fired.runId}\` of *${start.playbook}*.`
        : `:test_tube: DRILL scenario *${scenario.name}* armed (id \`${id}\`): the synthetic source drives SLO ${copy.name}; when its burn alert fires, *${start.playbook}* starts as a DRILL run. Expires in ${Math.round(scenario.expireAfterMs / 60_000)} min.`,
      ...(fired ? { runId: fired.runId } : {}),
    };
  }

  /**
   * Renews this replica's leases and adopts armed scenarios nobody holds; evaluates every one it
   * holds that is due; ends the fired and the expired. Returns how many it still holds armed.
   */
  tick(): Promise<number> {
    const next = this.#ticks.then(() => this.#tick());
    this.#ticks = next.catch(() => undefined);
    return next;
  }

  async #tick(): Promise<number> {
    // Only what was held before the claim can be missing from it for having ended or been taken
    // over: a scenario `start` armed while the claim was in flight committed after the claim's
    // snapshot, so it is absent from the answer though this replica holds it.
    const before = [...this.#armed.keys()];
    const rows = await claimArmed(this.ctx.db, this.#owner, this.leaseMs);
    const held = new Set(rows.map((r) => r.id));
    for (const id of before) if (!held.has(id)) this.#armed.delete(id); // ended, or taken over after our lease ran out
    for (const row of rows) if (!this.#armed.has(row.id) && !this.#arming.has(row.id)) await this.#adopt(row);
    const now = this.ctx.clock.now();
    for (const armed of [...this.#armed.values()]) {
      if (armed.fired) continue;
      if (now.getTime() >= armed.expiresAt) {
        this.#armed.delete(armed.id);
        await this.#end(armed.id, 'expired', now, {
          action: 'drill.scenario.expired',
          data: { drill: true, scenario: armed.scenario.name, playbook: armed.start.playbook, armedFor: now.getTime() - armed.armedAt },
          correlationId: armed.correlationId,
        });
        continue;
      }
      if (now.getTime() >= armed.nextAt) await this.#evaluate(armed);
    }
    return [...this.#armed.values()].filter((a) => !a.fired).length;
  }

  /** Hands this replica's armed scenarios back (a graceful stop), so another one adopts them at once. */
  async stop(): Promise<void> {
    await this.#ticks;
    this.#armed.clear();
    await releaseArmed(this.ctx.db, this.#owner);
  }

  /** The checks of an arming, against the scenario files, SLOs and playbooks as loaded now. */
  #resolve(start: ScenarioStart): Resolved {
    const { ctx } = this;
    const dir = ctx.config.QUENCH_DRILL_DIR;
    const { scenarios, problems } = loadScenarios(dir);
    const scenario = scenarios.get(start.scenario);
    if (!scenario) {
      const broken = problems.length ? `; problems in the scenario files: ${problems.map(formatProblem).join('; ')}` : '';
      throw new QuenchError('not_found', `no drill scenario named '${start.scenario}' in ${dir} (QUENCH_DRILL_DIR); known: ${[...scenarios.keys()].join(', ') || 'none'}${broken}`);
    }
    if (scenario.playbook && scenario.playbook !== start.playbook)
      throw new QuenchError('validation_failed', `scenario '${scenario.name}' is written for playbook '${scenario.playbook}', not '${start.playbook}'`);
    const version = ctx.ports.playbooks?.current(start.playbook);
    if (!version) throw new QuenchError('not_found', `no playbook named '${start.playbook}'; loaded: ${ctx.ports.playbooks?.list().map((p) => p.name).join(', ') || 'none'}`);
    const fail = [...scenario.fail, ...start.fail];
    checkFaults(start.playbook, version.definition.steps, fail);
    const slo = loadSlos([ctx.config.QUENCH_SLO_DIR]).slos.find((s) => s.name === scenario.slo);
    if (!slo) throw new QuenchError('not_found', `scenario '${scenario.name}' drives SLO '${scenario.slo}', which is not defined in ${ctx.config.QUENCH_SLO_DIR}`);
    const copy = drillSlo(slo, scenario);
    const triggers = version.definition.triggers ?? [];
    const probe = { source: 'slo', type: 'slo.burn', slo: { name: copy.name, severity: 'page' as const } };
    if (!triggers.some((t) => t.slo?.name === copy.name || matches(t, { ...probe, key: 'probe', summary: '', labels: { slo: copy.name, service: copy.service }, annotations: {}, occurredAt: new Date(), resolved: false, slo: { ...probe.slo, burnRates: {} } })) && copy.alerting.tiers.page.playbook !== start.playbook && copy.alerting.tiers.ticket.playbook !== start.playbook)
      throw new QuenchError('validation_failed', `playbook '${start.playbook}' has no trigger on SLO '${copy.name}': a burn of it would not start the playbook`);
    return { scenario: { ...scenario, fail }, copy };
  }

  /** The in-memory side of an armed scenario: its own evaluator over the script anchored at `armedAt`. */
  #arm(row: { id: string; start: ScenarioStart; correlationId: string; armedAt: Date; expiresAt?: Date }, { scenario, copy }: Resolved, now: Date): Armed {
    const { ctx } = this;
    const armed: Armed = {
      id: row.id,
      scenario,
      start: row.start,
      armedAt: row.armedAt.getTime(),
      expiresAt: row.expiresAt?.getTime() ?? row.armedAt.getTime() + scenario.expireAfterMs,
      nextAt: now.getTime(),
      fired: undefined,
      correlationId: row.correlationId,
      evaluator: new SloEvaluator({
        slos: [copy],
        sources: { synthetic: syntheticSource(row.armedAt) },
        clock: ctx.clock,
        logger: ctx.logger.child({ component: 'drill-scenario', scenario: scenario.name }),
        audit: drillAudit(ctx.audit, row.id, scenario.name) as AuditTrail,
        triggers: () => ({ emit: (event) => this.#fire(armed, event) }),
        intervalMs: scenario.evaluateEveryMs,
      }),
    };
    return armed;
  }

  /** Takes over a row armed by another replica (or by this one before a restart). */
  async #adopt(row: ArmedRow): Promise<void> {
    const now = this.ctx.clock.now();
    let resolved: Resolved;
    try {
      resolved = this.#resolve(row.start);
    } catch (err) {
      if (!(err instanceof QuenchError)) throw err;
      // The scenario, its SLO or its playbook changed or went away since it was armed: say so, once.
      await this.#end(row.id, 'lost', now, {
        action: 'drill.scenario.lost',
        data: { drill: true, scenario: row.scenario, playbook: row.playbook, reason: err.message },
        correlationId: row.correlationId,
      });
      return;
    }
    const armed = this.#arm(row, resolved, now);
    this.#armed.set(row.id, armed);
    await this.ctx.audit.append({
      actor: { type: 'system', id: 'drills' },
      action: 'drill.scenario.adopted',
      subject: { type: 'drill_scenario', id: row.id },
      data: { drill: true, scenario: row.scenario, playbook: row.playbook, by: this.#owner, armedAt: row.armedAt.toISOString(), ...(row.state === 'firing' ? { firing: true } : {}) },
      correlationId: row.correlationId,
    });
    // Its alert had fired and its replica died before the run started: start it (same start key).
    if (row.state === 'firing' && row.fireEvent) await this.#startDrillRun(armed, row.fireEvent);
  }

  /** Ends an armed row and audits it, both or neither, and only if no other replica ended it first. */
  async #end(id: string, state: ArmedEnd, at: Date, entry: { action: string; data: Record<string, unknown>; correlationId: string }, runId?: string): Promise<boolean> {
    const { ctx } = this;
    return ctx.db.orm.transaction(async (tx) => {
      if (!(await endArmed(tx, id, state, at, runId))) return false;
      await ctx.audit.append({ actor: { type: 'system', id: 'drills' }, subject: { type: 'drill_scenario', id }, ...entry }, tx);
      return true;
    });
  }

  async #evaluate(armed: Armed): Promise<void> {
    armed.nextAt = this.ctx.clock.now().getTime() + armed.scenario.evaluateEveryMs;
    await armed.evaluator.evaluateAll();
  }

  /**
   * The drill evaluator's trigger sink: a burn that matches the playbook claims the fire on the
   * row (armed-store.ts markFiring), then starts the DRILL run. A replica that finds the row no
   * longer armed (another one took it over and ended or fired it) starts nothing.
   */
  async #fire(armed: Armed, event: TriggerEvent): Promise<void> {
    if (armed.fired || event.type !== 'slo.burn') return;
    const version = this.ctx.ports.playbooks?.current(armed.start.playbook);
    if (!version) throw new QuenchError('not_found', `playbook '${armed.start.playbook}' is no longer loaded`);
    const named = event.labels.playbook === armed.start.playbook;
    if (!named && !(version.definition.triggers ?? []).some((t) => matches(t, event))) return;
    const trigger: TriggerEvent = {
      ...event,
      key: `drill:${armed.id}`,
      summary: `DRILL (scenario ${armed.scenario.name}): ${event.summary}`,
      labels: { ...event.labels, drill: 'true', scenario: armed.scenario.name, requestedBy: armed.start.user, via: armed.start.via },
      correlationId: armed.correlationId,
    };
    if (!(await markFiring(this.ctx.db, armed.id, trigger))) {
      this.#armed.delete(armed.id);
      return;
    }
    await this.#startDrillRun(armed, trigger);
  }

  /** Starts the DRILL run of a fire claimed on the row (by this replica, or one that died after claiming it). */
  async #startDrillRun(armed: Armed, trigger: TriggerEvent): Promise<void> {
    const { ctx } = this;
    const version = ctx.ports.playbooks?.current(armed.start.playbook);
    if (!version) throw new QuenchError('not_found', `playbook '${armed.start.playbook}' is no longer loaded`);
    const run = await ctx.ports.engine.startRun({
      playbook: { definition: version.definition, hash: version.hash },
      trigger,
      inputs: armed.start.inputs,
      correlationId: armed.correlationId,
      // Two replicas that both start it (one stalled past its lease, one that took the row over) make one run.
      startKey: `drill:${armed.id}`,
      drill: { ...(armed.scenario.fail.length ? { fail: armed.scenario.fail } : {}), scenario: armed.scenario.name, ...(Object.keys(armed.scenario.delaysMs).length ? { delays: armed.scenario.delaysMs } : {}) },
      actor: { type: 'user', id: armed.start.user },
      ...(armed.start.aliases ? { starterAliases: armed.start.aliases } : {}),
    });
    armed.fired = { ...run, playbook: armed.start.playbook, drill: true, startedBy: `user:${armed.start.user}` };
    this.#armed.delete(armed.id);
    await this.#end(
      armed.id,
      'fired',
      ctx.clock.now(),
      {
        action: 'drill.scenario.fired',
        data: { drill: true, scenario: armed.scenario.name, playbook: armed.start.playbook, runId: run.runId, slo: trigger.slo ?? null, summary: trigger.summary },
        correlationId: armed.correlationId,
      },
      run.runId,
    );
  }
}
