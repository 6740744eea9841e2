import type { ActionDefinition } from '../actions/action.js';
import type { ActionRegistry } from '../actions/registry.js';

/**
 * Actions that never run for real in a drill, even on a step its author marked `drillSafe`:
 * the real deploy gate, real freezes, and real pages. In a drill they return what they would
 * have done, with their rendered (validated) parameters; PagerDuty Events calls go to the drill
 * routing key instead when QUENCH_PAGERDUTY_DRILL_ROUTING_KEY is set (`drillRouted`).
 */
export const neverRealInDrills = (name: string) => name === 'deploy.freeze' || name === 'deploy.unfreeze' || name.startsWith('pagerduty.');

/** Set on a guarded action whose drill calls go to a drill target (PagerDuty's drill routing key): safe on any drill step. */
export const DRILL_ROUTED = Symbol('quench.drillRouted');

/**
 * Guards the registered actions in place. The registry is the one place actions are
 * dispatched from and it refuses a second registration under the same name, so the guard
 * wraps each definition's `run` once (marked, so a second call is a no-op). Called when the
 * service has started every capability (the gate and chat register theirs at start).
 * `drillTargets` are the same-named actions bound to drill targets (PagerDuty events with the
 * drill routing key): a drill calls them instead of simulating.
 */
export function guardDrillActions(registry: ActionRegistry, drillTargets: readonly ActionDefinition[] = []): string[] {
  const guarded: string[] = [];
  for (const name of registry.names()) {
    if (!neverRealInDrills(name)) continue;
    const action = registry.get(name) as (ActionDefinition & { [GUARDED]?: true; [DRILL_ROUTED]?: true }) | undefined;
    if (!action || action[GUARDED]) continue;
    const real = action.run.bind(action);
    const drillTarget = drillTargets.find((d) => d.name === name);
    action.run = async (params, ctx) => {
      if (!ctx.drill) return real(params, ctx);
      if (drillTarget) return { drill: true, routed: 'pagerduty-drill-routing-key', result: await drillTarget.run(drillParams(params), ctx) };
      return { simulated: true, drill: true, action: name, wouldHave: params };
    };
    action[GUARDED] = true;
    if (drillTarget) action[DRILL_ROUTED] = true;
    guarded.push(name);
  }
  return guarded;
}

/** A page sent during a drill says so in its summary, whoever receives it. */
function drillParams(params: unknown): unknown {
  const p = params as { summary?: unknown } | null;
  return p && typeof p.summary === 'string' && !p.summary.startsWith('[DRILL]') ? { ...p, summary: `[DRILL] ${p.summary}` } : params;
}

const GUARDED = Symbol('quench.drillGuarded');
