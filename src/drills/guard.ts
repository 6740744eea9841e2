import type { ActionDefinition } from '../actions/action.js';
import type { ActionRegistry } from '../actions/registry.js';

/**
 * Actions that never run for real in a drill, even on a step its author marked `drillSafe`:
 * the real deploy gate, real freezes, and real pages. In a drill they return what they would
 * have done, with their rendered (validated) parameters.
 */
export const neverRealInDrills = (name: string) => name === 'deploy.freeze' || name === 'deploy.unfreeze' || name.startsWith('pagerduty.');

/**
 * Guards the registered actions in place. The registry is the one place actions are
 * dispatched from and it refuses a second registration under the same name, so the guard
 * wraps each definition's `run` once (marked, so a second call is a no-op). Called when the
 * service has started every capability (the gate and chat register theirs at start).
 */
export function guardDrillActions(registry: ActionRegistry): string[] {
  const guarded: string[] = [];
  for (const name of registry.names()) {
    if (!neverRealInDrills(name)) continue;
    const action = registry.get(name) as (ActionDefinition & { [GUARDED]?: true }) | undefined;
    if (!action || action[GUARDED]) continue;
    const real = action.run.bind(action);
    action.run = async (params, ctx) => (ctx.drill ? { simulated: true, drill: true, action: name, wouldHave: params } : real(params, ctx));
    action[GUARDED] = true;
    guarded.push(name);
  }
  return guarded;
}

const GUARDED = Symbol('quench.drillGuarded');
