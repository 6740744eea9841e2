import { describe, expect, it } from 'vitest';
import { runIncidents, type StepForIncidents } from '../../../src/pagerduty/core/run-incidents.js';
import type { Step } from '../../../src/playbooks/core/model.js';

/** Which PagerDuty alerts a run raised and did not resolve, read from its step rows (`/quench ack`). */
const definition = [
  { id: 'page', kind: 'action', action: 'pagerduty.trigger', params: { summary: 's' } },
  { id: 'notify', kind: 'action', action: 'log', params: {} },
  {
    id: 'both',
    kind: 'parallel',
    branches: [{ steps: [{ id: 'pageTeam', kind: 'action', action: 'pagerduty.trigger', params: { summary: 't', dedupKey: 'team' } }] }],
  },
  { id: 'unpage', kind: 'action', action: 'pagerduty.resolve', params: {} },
] as unknown as Step[];

let seq = 0;
const row = (stepKey: string, output: unknown, extra: Partial<StepForIncidents> = {}): StepForIncidents => ({
  stepKey,
  status: 'succeeded',
  spec: { role: 'step' },
  output,
  completedSeq: ++seq,
  ...extra,
});

describe('runIncidents', () => {
  it('finds triggers by their action, in playbook steps and parallel branches, with the dedup key they used', () => {
    expect(
      runIncidents(definition, [row('page', { dedupKey: 'corr-1', status: 'triggered' }), row('pageTeam', { dedupKey: 'team', status: 'triggered' })]),
    ).toEqual([
      { dedupKey: 'corr-1', triggeredBy: 'page' },
      { dedupKey: 'team', triggeredBy: 'pageTeam' },
    ]);
  });

  it('a later resolve of the same key closes it; a resolve of another key does not', () => {
    const steps = [row('page', { dedupKey: 'corr-1', status: 'triggered' }), row('unpage', { dedupKey: 'other', status: 'resolved' })];
    expect(runIncidents(definition, steps)).toEqual([{ dedupKey: 'corr-1', triggeredBy: 'page' }]);
    const resolved = [row('page', { dedupKey: 'corr-1', status: 'triggered' }), row('unpage', { dedupKey: 'corr-1', status: 'resolved' })];
    expect(runIncidents(definition, resolved)).toEqual([{ dedupKey: 'corr-1', triggeredBy: 'page', resolvedBy: 'unpage' }]);
  });

  it('order is completion order: a trigger after a resolve is open again', () => {
    const steps = [
      row('page', { dedupKey: 'k', status: 'triggered' }, { completedSeq: 1 }),
      row('again', { dedupKey: 'k', status: 'triggered' }, { completedSeq: 3, spec: { role: 'fallback', of: 'x', call: { action: 'pagerduty.trigger', params: {} } } }),
      row('unpage', { dedupKey: 'k', status: 'resolved' }, { completedSeq: 2 }),
    ];
    expect(runIncidents(definition, steps)).toEqual([{ dedupKey: 'k', triggeredBy: 'again' }]);
  });

  it('compensations count; failed, unfinished, simulated (drill) and other actions do not', () => {
    const compensation = row('page/compensate', { dedupKey: 'k', status: 'resolved' }, {
      spec: { role: 'compensation', of: 'page', call: { action: 'pagerduty.resolve', params: {} }, order: 1 },
      completedSeq: 1_000,
    });
    expect(runIncidents(definition, [row('page', { dedupKey: 'k', status: 'triggered' }), compensation])[0]!.resolvedBy).toBe('page/compensate');
    expect(
      runIncidents(definition, [
        row('page', { dedupKey: 'k', status: 'triggered' }, { status: 'failed' }),
        row('page', { dedupKey: 'k', status: 'triggered' }, { completedSeq: null }),
        row('page', { simulated: true, drill: true, action: 'pagerduty.trigger' }),
        row('notify', { dedupKey: 'k', status: 'triggered' }),
      ]),
    ).toEqual([]);
  });
});
