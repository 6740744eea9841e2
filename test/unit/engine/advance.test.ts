import { describe, expect, it } from 'vitest';
import { advance, type RowView, type RunView } from '../../../src/engine/core/advance.js';
import { indexPlaybook } from '../../../src/engine/core/flow.js';
import type { StepStatus } from '../../../src/engine/core/states.js';
import { type PlaybookSource, playbookSchema } from '../../../src/playbooks/core/model.js';

const undo = (id: string) => ({ action: 'log', params: { message: `undo ${id}` } });

function view(
  steps: PlaybookSource['steps'],
  rows: Array<[string, StepStatus, number | null, RowView['spec']?]>,
  outputs: Record<string, unknown> = {},
  state: RunView['state'] = 'running',
): RunView {
  const definition = playbookSchema.parse({ apiVersion: 'quench/v1', kind: 'Playbook', metadata: { name: 'p', owner: 'o' }, steps });
  const index = indexPlaybook(definition);
  return {
    state,
    index,
    rows: new Map(
      rows.map(([key, status, seq, spec]) => [
        key,
        { key, status, completedSeq: seq, spec: spec ?? { role: 'step' }, output: outputs[key] ?? null },
      ]),
    ),
    compensationOf: (row) => index.get(row.key)?.step.compensate,
  };
}

const act = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  kind: 'action' as const,
  action: 'log',
  params: { message: id },
  ...extra,
});

describe('advance', () => {
  it('starts the next step in order, and succeeds the run at the end', () => {
    const v = view([act('a'), act('b')], [['a', 'succeeded', 1]]);
    expect(advance(v, { key: 'a', status: 'succeeded' })).toEqual([{ type: 'create', key: 'b', spec: { role: 'step' }, status: 'ready' }]);
    const w = view(
      [act('a'), act('b')],
      [
        ['a', 'succeeded', 1],
        ['b', 'succeeded', 2],
      ],
    );
    expect(advance(w, { key: 'b', status: 'succeeded' })).toEqual([{ type: 'run', state: 'succeeded' }]);
  });

  it('follows a decide target and explicit next/end', () => {
    const steps = [act('a', { next: 'c' }), act('b'), act('c', { next: 'end' }), act('d')];
    expect(advance(view(steps, [['a', 'succeeded', 1]]), { key: 'a', status: 'succeeded' })).toEqual([
      { type: 'create', key: 'c', spec: { role: 'step' }, status: 'ready' },
    ]);
    expect(advance(view(steps, [['c', 'succeeded', 1]]), { key: 'c', status: 'succeeded' })).toEqual([{ type: 'run', state: 'succeeded' }]);
    expect(advance(view(steps, [['b', 'succeeded', 1]]), { key: 'b', status: 'succeeded', target: 'd' })[0]).toMatchObject({ key: 'd' });
  });

  it('compensates completed state-changing steps in reverse completion order', () => {
    const steps = [
      act('a', { compensate: undo('a') }),
      act('b'),
      act('c', { compensate: undo('c') }),
      act('d', { compensate: undo('d') }),
      act('e'),
    ];
    // d completed before c (say, in parallel branches): the order of completion decides.
    const v = view(steps, [
      ['a', 'succeeded', 1],
      ['b', 'succeeded', 2],
      ['d', 'succeeded', 3],
      ['c', 'succeeded', 4],
      ['e', 'running', null],
    ]);
    const effects = advance(v, { key: 'e', status: 'failed', error: { code: 'x' } });
    expect(effects.slice(0, 2)).toEqual([{ type: 'cancelOpen' }, { type: 'run', state: 'compensating', error: { code: 'x' } }]);
    expect(effects.slice(2).map((e) => (e.type === 'create' ? [e.key, e.status] : e.type))).toEqual([
      ['c/compensate', 'ready'],
      ['d/compensate', 'pending'],
      ['a/compensate', 'pending'],
    ]);
  });

  it('fails the run outright when nothing needs undoing', () => {
    const v = view(
      [act('a'), act('b')],
      [
        ['a', 'succeeded', 1],
        ['b', 'running', null],
      ],
    );
    expect(advance(v, { key: 'b', status: 'failed', error: 'e' })).toEqual([
      { type: 'cancelOpen' },
      { type: 'run', state: 'failed', error: 'e' },
    ]);
  });

  it('runs the next compensation after one succeeds, and ends compensated after the last', () => {
    const steps = [act('a', { compensate: undo('a') }), act('b', { compensate: undo('b') }), act('c')];
    const comp = (of: string, order: number): RowView['spec'] => ({ role: 'compensation', of, call: undo(of), order });
    const v = view(steps, [
      ['b/compensate', 'succeeded', 3, comp('b', 0)],
      ['a/compensate', 'pending', null, comp('a', 1)],
    ]);
    expect(advance(v, { key: 'b/compensate', status: 'succeeded' })).toEqual([{ type: 'ready', key: 'a/compensate' }]);
    const w = view(steps, [
      ['b/compensate', 'succeeded', 3, comp('b', 0)],
      ['a/compensate', 'succeeded', 4, comp('a', 1)],
    ]);
    expect(advance(w, { key: 'a/compensate', status: 'succeeded' })).toEqual([{ type: 'run', state: 'compensated' }]);
    const x = view(steps, [
      ['b/compensate', 'failed', null, comp('b', 0)],
      ['a/compensate', 'pending', null, comp('a', 1)],
    ]);
    expect(advance(x, { key: 'b/compensate', status: 'failed', error: 'e' }).map((e) => e.type)).toEqual(['run', 'create']);
  });

  it('runs a fallback before onFailure, and goes on after it', () => {
    const steps = [act('a', { fallback: { action: 'log', params: { message: 'plan b' } } }), act('b')];
    const effects = advance(view(steps, [['a', 'running', null]]), { key: 'a', status: 'failed', error: 'e' });
    expect(effects).toEqual([
      {
        type: 'create',
        key: 'a/fallback',
        spec: { role: 'fallback', of: 'a', call: { action: 'log', params: { message: 'plan b' } } },
        status: 'ready',
      },
    ]);
    const after = view(steps, [
      ['a', 'failed', null],
      ['a/fallback', 'succeeded', 1, { role: 'fallback', of: 'a', call: { action: 'log', params: {} } }],
    ]);
    expect(advance(after, { key: 'a/fallback', status: 'succeeded' })).toEqual([
      { type: 'create', key: 'b', spec: { role: 'step' }, status: 'ready' },
    ]);
  });

  it('applies onFailure continue and escalate', () => {
    const steps = [act('a', { onFailure: 'continue' }), act('b', { onFailure: 'escalate' }), act('c')];
    expect(advance(view(steps, [['a', 'running', null]]), { key: 'a', status: 'failed', error: 'e' })).toEqual([
      { type: 'create', key: 'b', spec: { role: 'step' }, status: 'ready' },
    ]);
    expect(advance(view(steps, [['b', 'running', null]]), { key: 'b', status: 'failed', error: 'e' })).toEqual([
      { type: 'create', key: 'b/escalate', spec: { role: 'escalation', of: 'b' }, status: 'ready' },
    ]);
    const approved = view(steps, [
      ['b', 'failed', null],
      ['b/escalate', 'succeeded', 1, { role: 'escalation', of: 'b' }],
    ]);
    expect(advance(approved, { key: 'b/escalate', status: 'succeeded' })[0]).toMatchObject({ key: 'c' });
  });

  it('joins parallel branches: the step after runs once every branch ended', () => {
    const steps = [
      { id: 'p', kind: 'parallel' as const, branches: [{ steps: [act('x1'), act('x2')] }, { steps: [act('y')] }] },
      act('after'),
    ];
    const first = advance(
      view(steps, [
        ['p', 'waiting', null],
        ['y', 'succeeded', 1],
      ]),
      { key: 'y', status: 'succeeded' },
    );
    expect(first).toEqual([{ type: 'branchDone', key: 'p', output: { branchesDone: [1] } }]);
    const last = advance(
      view(
        steps,
        [
          ['p', 'waiting', null],
          ['y', 'succeeded', 1],
          ['x2', 'succeeded', 2],
        ],
        { p: { branchesDone: [1] } },
      ),
      { key: 'x2', status: 'succeeded' },
    );
    expect(last).toEqual([
      { type: 'finish', key: 'p', status: 'succeeded', output: { branchesDone: [0, 1] } },
      { type: 'create', key: 'after', spec: { role: 'step' }, status: 'ready' },
    ]);
  });

  it('a failure while a parallel sibling is in flight waits for it; the last one to finish plans the undo', () => {
    const steps = [
      {
        id: 'p',
        kind: 'parallel' as const,
        branches: [{ steps: [act('slow', { compensate: undo('slow') })] }, { steps: [act('boom')] }],
      },
    ];
    const failing = view(steps, [
      ['p', 'waiting', null],
      ['slow', 'running', null],
      ['boom', 'failed', null],
    ]);
    expect(advance(failing, { key: 'boom', status: 'failed', error: 'e' })).toEqual([
      { type: 'cancelOpen', keepRunning: true },
      { type: 'run', state: 'compensating', error: 'e' },
    ]);
    const drained = view(
      steps,
      [
        ['p', 'cancelled', null],
        ['slow', 'succeeded', 1],
        ['boom', 'failed', null],
      ],
      {},
      'compensating',
    );
    expect(advance(drained, { key: 'slow', status: 'succeeded' })).toEqual([
      { type: 'cancelOpen' },
      { type: 'run', state: 'compensating' },
      { type: 'create', key: 'slow/compensate', spec: { role: 'compensation', of: 'slow', call: undo('slow'), order: 0 }, status: 'ready' },
    ]);
  });

  it('deciding the manual step of a failed undo runs the older undos', () => {
    const steps = [act('a', { compensate: undo('a') }), act('b', { compensate: undo('b') }), act('c')];
    const comp = (of: string, order: number): RowView['spec'] => ({ role: 'compensation', of, call: undo(of), order });
    const manual: RowView['spec'] = { role: 'manual', of: 'b/compensate', reason: 'r' };
    const rows: Array<[string, StepStatus, number | null, RowView['spec']?]> = [
      ['b/compensate', 'failed', null, comp('b', 0)],
      ['a/compensate', 'pending', null, comp('a', 1)],
      ['b/compensate/manual', 'succeeded', 5, manual],
    ];
    expect(advance(view(steps, rows, {}, 'compensation_failed'), { key: 'b/compensate/manual', status: 'succeeded' })).toEqual([
      { type: 'run', state: 'compensating' },
      { type: 'ready', key: 'a/compensate' },
    ]);
    const done = view(steps, [...rows.slice(0, 1), ['a/compensate', 'succeeded', 6, comp('a', 1)], rows[2]!], {}, 'compensating');
    expect(advance(done, { key: 'a/compensate', status: 'succeeded' })).toEqual([{ type: 'run', state: 'compensated' }]);
    const rejected = view(steps, [...rows.slice(0, 1), ['a/compensate', 'succeeded', 6, comp('a', 1)], ['b/compensate/manual', 'failed', null, manual]], {}, 'compensating');
    expect(advance(rejected, { key: 'a/compensate', status: 'succeeded' })).toEqual([{ type: 'run', state: 'compensation_failed' }]);
  });
});
