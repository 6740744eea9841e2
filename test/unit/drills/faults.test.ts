import { describe, expect, it } from 'vitest';
import { parseRunWords, splitWords } from '../../../src/chat/slack/run-commands.js';
import { faultFor, injectedCode, parseFaults } from '../../../src/drills/core/faults.js';

describe('fault injection (fail=STEP, STEP:once, STEP:always)', () => {
  it('parses modes and refuses what would make a drill test nothing', () => {
    expect(parseFaults(['rollback', 'page:once', 'scale:always'])).toEqual({
      ok: true,
      faults: [
        { step: 'rollback', mode: 'always' },
        { step: 'page', mode: 'once' },
        { step: 'scale', mode: 'always' },
      ],
    });
    expect(parseFaults(['page:twice'])).toMatchObject({ ok: false, problem: expect.stringMatching(/once or always/) });
    expect(parseFaults([':once'])).toMatchObject({ ok: false, problem: expect.stringMatching(/name a step/) });
    expect(parseFaults(['page', 'page:once'])).toMatchObject({ ok: false, problem: expect.stringMatching(/twice/) });
  });

  it('always fails every attempt, once only the first; never a fallback or compensation', () => {
    expect(faultFor(['page'], 'page', 'step', 1)).toBeDefined();
    expect(faultFor(['page'], 'page', 'step', 5)).toBeDefined();
    expect(faultFor(['page:once'], 'page', 'step', 1)).toBeDefined();
    expect(faultFor(['page:once'], 'page', 'step', 2)).toBeUndefined();
    expect(faultFor(['page'], 'page/fallback', 'fallback', 1)).toBeUndefined();
    expect(faultFor(['page'], 'page/compensate', 'compensation', 1)).toBeUndefined();
    expect(faultFor(['page'], 'other', 'step', 1)).toBeUndefined();
    expect(faultFor(undefined, 'page', 'step', 1)).toBeUndefined();
  });

  it('injects a code the step retries on when its retryOn names one', () => {
    expect(injectedCode(undefined)).toBe('drill_failure');
    expect(injectedCode(['ECONN*', 'timeout'])).toBe('timeout');
    expect(injectedCode(['http_5xx'])).toBe('http_500');
    expect(injectedCode(['ECONN*'])).toBe('drill_failure');
  });
});

describe('Slack run words', () => {
  it('keeps quoted values together and splits the rest on spaces', () => {
    expect(splitWords('drill checkout  fail=page message="two words" x=“curly quoted”')).toEqual({
      words: ['drill', 'checkout', 'fail=page', 'message=two words', 'x=curly quoted'],
    });
    expect(splitWords('run x a="open')).toMatchObject({ problem: 'a double quote is not closed' });
    expect(splitWords('run x a=""').words).toEqual(['run', 'x', 'a=']);
  });

  it('fail= and scenario= belong to drills; in a run they are inputs', () => {
    expect(parseRunWords(['checkout', 'fail=page,scale:once', 'scenario=burn', 'n=3'], true)).toEqual({
      ok: true,
      request: { playbook: 'checkout', inputs: ['n=3'], fail: ['page', 'scale:once'], scenario: 'burn' },
    });
    expect(parseRunWords(['checkout', 'fail=page'], false)).toEqual({
      ok: true,
      request: { playbook: 'checkout', inputs: ['fail=page'], fail: [], scenario: undefined },
    });
    expect(parseRunWords([], true)).toMatchObject({ ok: false });
    expect(parseRunWords(['n=3'], true)).toMatchObject({ ok: false, problem: 'name the playbook first' });
    expect(parseRunWords(['checkout', 'loose'], true)).toMatchObject({ ok: false, problem: "'loose' must be name=value" });
    expect(parseRunWords(['checkout', 'scenario=a', 'scenario=b'], true)).toMatchObject({ ok: false });
  });
});
