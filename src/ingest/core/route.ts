import type { TriggerMatcher } from '../../playbooks/core/triggers-schema.js';
import { matchesWhole } from '../../playbooks/core/patterns.js';
import type { TriggerEvent } from '../../triggers/event.js';
import { canonicalLabels } from './alertmanager.js';

/** What routing needs of a playbook: its name and its `triggers`. */
export interface RoutablePlaybook {
  metadata: { name: string };
  triggers: TriggerMatcher[];
}

export type RouteDecision =
  | {
      kind: 'matched';
      playbook: string;
      /** `trigger`: a matcher won; `named`: the SLO definition names the playbook (its `playbook` label). */
      via: 'trigger' | 'named';
      /** Index of the winning matcher in the playbook's `triggers` (-1 when named). */
      trigger: number;
      specificity: number;
      priority: number;
      /** Storm-control key; undefined when every event gets its own run. */
      groupKey: string | undefined;
      window: string;
      /** How many (playbook, trigger) pairs matched, the winner included. */
      candidates: number;
    }
  | { kind: 'unrouted' };

const list = <T>(v: T | T[] | undefined): T[] | undefined => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);

/**
 * An event's own label, never an inherited member: a trigger may name any label, and
 * `labels.constructor` on an event without one is Object's constructor (labelsMatch then threw
 * for every event, so every delivery failed routing).
 */
const label = (e: TriggerEvent, name: string): string | undefined => (Object.hasOwn(e.labels, name) ? e.labels[name] : undefined);


/** Whether every condition of the matcher holds for the event. */
export function matches(m: TriggerMatcher, e: TriggerEvent): boolean {
  const sources = list(m.source);
  if (sources && !sources.includes(e.source)) return false;
  const types = list(m.type);
  if (types && !types.includes(e.type)) return false;
  const severities = list(m.severity);
  if (severities && (e.severity === undefined || !severities.includes(e.severity))) return false;
  for (const [name, value] of Object.entries(m.labels ?? {})) if (label(e, name) !== value) return false;
  for (const [name, pattern] of Object.entries(m.labelsMatch ?? {})) {
    const value = label(e, name);
    // RE2 (linear time): label values are a webhook sender's text.
    if (value === undefined || !matchesWhole(pattern, value)) return false;
  }
  if (m.slo) {
    if (!e.slo) return false;
    if (m.slo.name !== undefined && m.slo.name !== e.slo.name) return false;
    if (m.slo.severity !== undefined && m.slo.severity !== e.slo.severity) return false;
  }
  return true;
}

/**
 * How specific a matcher is: one point per condition, two per exact label (an exact value
 * narrows more than a pattern). A matcher with no conditions (a catch-all) scores 0, so any
 * playbook that names what it handles beats it.
 */
export function specificity(m: TriggerMatcher): number {
  let score = 0;
  if (m.source !== undefined) score++;
  if (m.type !== undefined) score++;
  if (m.severity !== undefined) score++;
  score += 2 * Object.keys(m.labels ?? {}).length;
  score += Object.keys(m.labelsMatch ?? {}).length;
  if (m.slo?.name !== undefined) score++;
  if (m.slo?.severity !== undefined) score++;
  return score;
}

/**
 * The grouping key for storm control: the matcher's `groupBy` labels when given, otherwise the
 * source's own group key (Alertmanager's groupKey). Scoped to the playbook by the caller.
 */
export function groupKeyFor(m: TriggerMatcher, e: TriggerEvent): string | undefined {
  if (m.groupBy) {
    // fromEntries defines each name as an own property (an assignment to `__proto__` would not).
    return `by:${canonicalLabels(Object.fromEntries(m.groupBy.map((name) => [name, label(e, name) ?? ''])))}`;
  }
  return e.groupKey;
}

/**
 * Picks the one playbook an event starts: the most specific matching trigger wins, then the
 * higher `priority`, then (so that the choice never depends on file order) the playbook name.
 * SLO events that name a loaded playbook go to it directly.
 */
export function route(event: TriggerEvent, playbooks: readonly RoutablePlaybook[]): RouteDecision {
  // An SLO file may name its playbook (it rides along as the `playbook` label): the operator's
  // explicit choice outranks matching. Only for SLO events, whose labels come from local files,
  // never for webhook senders, who must not pick playbooks their triggers do not allow.
  const named = event.source === 'slo' ? event.labels.playbook : undefined;
  if (named && playbooks.some((p) => p.metadata.name === named)) {
    return {
      kind: 'matched',
      playbook: named,
      via: 'named',
      trigger: -1,
      specificity: 0,
      priority: 0,
      groupKey: event.groupKey,
      window: '5m',
      candidates: 1,
    };
  }
  let best: Extract<RouteDecision, { kind: 'matched' }> | undefined;
  let candidates = 0;
  for (const pb of playbooks) {
    pb.triggers.forEach((m, index) => {
      if (!matches(m, event)) return;
      candidates++;
      const s = specificity(m);
      const p = m.priority ?? 0;
      const better =
        !best ||
        s > best.specificity ||
        (s === best.specificity && p > best.priority) ||
        (s === best.specificity && p === best.priority && pb.metadata.name < best.playbook);
      if (better) {
        best = {
          kind: 'matched',
          playbook: pb.metadata.name,
          via: 'trigger',
          trigger: index,
          specificity: s,
          priority: p,
          groupKey: groupKeyFor(m, event),
          window: m.window ?? '5m',
          candidates: 0,
        };
      }
    });
  }
  return best ? { ...best, candidates } : { kind: 'unrouted' };
}
