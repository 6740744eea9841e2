import { describe, expect, it } from 'vitest';
import { activityState } from '../../../src/engine/core/advance.js';
import { assertRunTransition, canTransitionRun, canTransitionStep, runStates, TransitionError } from '../../../src/engine/core/states.js';

describe('run and step states', () => {
  it('has exactly the documented run states', () => {
    expect(runStates).toEqual([
      'pending',
      'running',
      'waiting',
      'succeeded',
      'failed',
      'compensating',
      'compensated',
      'compensation_failed',
      'cancelled',
    ]);
  });

  it('never leaves a finished run except to re-drive a dead letter', () => {
    for (const to of runStates) {
      if (to !== 'succeeded') expect(canTransitionRun('succeeded', to)).toBe(false);
      if (to !== 'cancelled') expect(canTransitionRun('cancelled', to)).toBe(false);
      if (to !== 'compensated') expect(canTransitionRun('compensated', to)).toBe(false);
    }
    expect(canTransitionRun('failed', 'running')).toBe(true);
    expect(canTransitionRun('compensation_failed', 'compensating')).toBe(true);
    expect(() => assertRunTransition('r1', 'cancelled', 'succeeded')).toThrow(TransitionError);
  });

  it('only lets a step finish from running or waiting', () => {
    expect(canTransitionStep('ready', 'succeeded')).toBe(false);
    expect(canTransitionStep('running', 'succeeded')).toBe(true);
    expect(canTransitionStep('waiting', 'failed')).toBe(true);
    expect(canTransitionStep('succeeded', 'running')).toBe(false);
  });

  it('derives waiting only when every open step waits', () => {
    expect(activityState(['succeeded', 'waiting'])).toBe('waiting');
    expect(activityState(['waiting', 'retry_wait'])).toBe('running');
    expect(activityState(['succeeded'])).toBe('running');
  });
});
