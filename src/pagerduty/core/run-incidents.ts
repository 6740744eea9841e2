import type { StepSpec } from '../../engine/core/step-spec.js';
import type { Step } from '../../playbooks/core/model.js';

/**
 * Which PagerDuty alerts a run raised, read from its own step rows: a succeeded
 * `pagerduty.trigger` (a playbook step, a fallback or a compensation) whose output holds the
 * dedup key it used; a later succeeded `pagerduty.resolve` of the same key closes it. Drill
 * runs' simulated triggers carry no dedup key, so they never count. Pure: rows in, keys out.
 */
export interface StepForIncidents {
  stepKey: string;
  status: string;
  spec: StepSpec;
  output: unknown;
  completedSeq: number | null;
}

export interface RunIncident {
  dedupKey: string;
  /** The step that triggered it. */
  triggeredBy: string;
  /** The step that resolved it, when one did. */
  resolvedBy?: string;
}

export function runIncidents(definitionSteps: Step[], steps: StepForIncidents[]): RunIncident[] {
  const byKey = new Map<string, RunIncident>();
  const done = steps
    .filter((s) => s.status === 'succeeded' && s.completedSeq !== null)
    .sort((a, b) => (a.completedSeq ?? 0) - (b.completedSeq ?? 0));
  for (const step of done) {
    const action = actionOf(definitionSteps, step);
    const output = step.output as { dedupKey?: unknown; status?: unknown } | null;
    if (typeof output?.dedupKey !== 'string' || output.dedupKey === '') continue;
    const key = output.dedupKey;
    if (action === 'pagerduty.trigger' && output.status === 'triggered') {
      // A second trigger with the same key reopens the same PagerDuty alert (PagerDuty dedups it).
      byKey.set(key, { dedupKey: key, triggeredBy: step.stepKey });
    } else if (action === 'pagerduty.resolve' && output.status === 'resolved') {
      const incident = byKey.get(key);
      if (incident) incident.resolvedBy = step.stepKey;
    }
  }
  return [...byKey.values()];
}

function actionOf(definitionSteps: Step[], step: StepForIncidents): string | undefined {
  if (step.spec.role === 'fallback' || step.spec.role === 'compensation') return step.spec.call.action;
  if (step.spec.role !== 'step') return undefined;
  const found = find(definitionSteps, step.stepKey);
  return found?.kind === 'action' ? found.action : undefined;
}

function find(steps: Step[], id: string): Step | undefined {
  for (const step of steps) {
    if (step.id === id) return step;
    if (step.kind === 'parallel') {
      for (const branch of step.branches) {
        const found = find(branch.steps, id);
        if (found) return found;
      }
    }
  }
  return undefined;
}
