import { randomUUID } from 'node:crypto';
import type { AuditTrail } from '../audit/trail.js';
import { QuenchError } from '../core/errors.js';
import { formatProblem, type Problem } from '../definitions/problem.js';
import { listYamlFiles, readYamlFile, zodProblems } from '../definitions/source.js';
import { matches } from '../ingest/core/route.js';
import { checkFaults, type StartedRun } from '../runs/start.js';
import type { ArmedScenario, ScenarioStart } from '../runs/control.js';
import type { ServiceContext } from '../service.js';
import { loadSlos } from '../slo/definitions.js';
import { SloEvaluator } from '../slo/evaluator.js';
import { syntheticSource } from '../slo/sources/synthetic.js';
import type { TriggerEvent } from '../triggers/event.js';
import { type DrillScenario, drillScenarioSchema, drillSlo, toScenario } from './core/scenario.js';

/**
 * Scenario drills: a DrillScenario (QUENCH_DRILL_DIR) armed by `/drill … scenario=NAME`,
 * `quench drill --scenario NAME` or `POST /v1/runs` runs its own SLO evaluator (the real one's
 * maths and alert state machine) over the scenario's synthetic script. When that evaluator's
 * burn alert fires and matches the playbook's trigger, the playbook starts as a DRILL run whose
 * trigger is the burn event. The drill's evaluator has no store, no metrics and no observers:
 * its statuses never reach `ports.slo`, the deploy gate, freezes or the SLO tables; its audit
 * entries are `drill.slo.alert.*`. Armed scenarios live in the process that armed them (a
 * restart drops them, audited as armed and never fired: arm it again).
 */
interface Armed {
  id: string;
  scenario: DrillScenario;
  start: ScenarioStart;
  evaluator: SloEvaluator;
  armedAt: number;
  nextAt: number;
  fired: StartedRun | undefined;
  correlationId: string;
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
  constructor(private readonly ctx: ServiceContext) {}

  /** Arms a scenario; the run starts when its alert fires (`tick`). */
  async start(start: ScenarioStart): Promise<ArmedScenario> {
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

    const id = randomUUID();
    const now = ctx.clock.now();
    const armed: Armed = {
      id,
      scenario: { ...scenario, fail },
      start,
      armedAt: now.getTime(),
      nextAt: now.getTime(),
      fired: undefined,
      correlationId: randomUUID(),
      evaluator: new SloEvaluator({
        slos: [copy],
        sources: { synthetic: syntheticSource(now) },
        clock: ctx.clock,
        logger: ctx.logger.child({ component: 'drill-scenario', scenario: scenario.name }),
        audit: drillAudit(ctx.audit, id, scenario.name) as AuditTrail,
        triggers: () => ({ emit: (event) => this.#fire(armed, event) }),
        intervalMs: scenario.evaluateEveryMs,
      }),
    };
    this.#armed.set(id, armed);
    await ctx.audit.append({
      actor: { type: 'user', id: start.user },
      action: 'drill.scenario.armed',
      subject: { type: 'drill_scenario', id },
      data: { drill: true, scenario: scenario.name, playbook: start.playbook, slo: copy.name, fail, via: start.via, responseDelays: scenario.delaysMs },
      correlationId: armed.correlationId,
    });
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

  /** Evaluates every armed scenario that is due; drops the fired and the expired. Returns how many are still armed. */
  async tick(): Promise<number> {
    const now = this.ctx.clock.now().getTime();
    for (const armed of [...this.#armed.values()]) {
      if (armed.fired) continue;
      if (now - armed.armedAt > armed.scenario.expireAfterMs) {
        this.#armed.delete(armed.id);
        await this.ctx.audit.append({
          actor: { type: 'system', id: 'drills' },
          action: 'drill.scenario.expired',
          subject: { type: 'drill_scenario', id: armed.id },
          data: { drill: true, scenario: armed.scenario.name, playbook: armed.start.playbook, armedFor: now - armed.armedAt },
          correlationId: armed.correlationId,
        });
        continue;
      }
      if (now >= armed.nextAt) await this.#evaluate(armed);
    }
    return [...this.#armed.values()].filter((a) => !a.fired).length;
  }

  /** The armed scenario, with the run it started once fired. */
  get(id: string): { scenario: string; playbook: string; runId: string | undefined } | undefined {
    const a = this.#armed.get(id);
    return a ? { scenario: a.scenario.name, playbook: a.start.playbook, runId: a.fired?.runId } : undefined;
  }

  async #evaluate(armed: Armed): Promise<void> {
    armed.nextAt = this.ctx.clock.now().getTime() + armed.scenario.evaluateEveryMs;
    await armed.evaluator.evaluateAll();
  }

  /** The drill evaluator's trigger sink: a burn that matches the playbook starts the DRILL run, once. */
  async #fire(armed: Armed, event: TriggerEvent): Promise<void> {
    if (armed.fired || event.type !== 'slo.burn') return;
    const { ctx } = this;
    const version = ctx.ports.playbooks?.current(armed.start.playbook);
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
    const run = await ctx.ports.engine.startRun({
      playbook: { definition: version.definition, hash: version.hash },
      trigger,
      inputs: armed.start.inputs,
      correlationId: armed.correlationId,
      drill: { ...(armed.scenario.fail.length ? { fail: armed.scenario.fail } : {}), scenario: armed.scenario.name, ...(Object.keys(armed.scenario.delaysMs).length ? { delays: armed.scenario.delaysMs } : {}) },
      actor: { type: 'user', id: armed.start.user },
      ...(armed.start.aliases ? { starterAliases: armed.start.aliases } : {}),
    });
    armed.fired = { ...run, playbook: armed.start.playbook, drill: true, startedBy: `user:${armed.start.user}` };
    this.#armed.delete(armed.id);
    await ctx.audit.append({
      actor: { type: 'system', id: 'drills' },
      action: 'drill.scenario.fired',
      subject: { type: 'drill_scenario', id: armed.id },
      data: { drill: true, scenario: armed.scenario.name, playbook: armed.start.playbook, runId: run.runId, slo: event.slo ?? null, summary: event.summary },
      correlationId: armed.correlationId,
    });
  }
}
