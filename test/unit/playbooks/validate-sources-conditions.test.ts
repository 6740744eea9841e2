import { describe, expect, it } from 'vitest';
import { conditionTypeProblem } from '../../../src/playbooks/core/step-checks.js';
import { triggerSourceProblem } from '../../../src/playbooks/core/triggers-schema.js';
import { check, HEADER } from './fixtures.js';

/**
 * Playbooks that validate but can never work: a trigger source no event has, and a condition
 * whose type is known and is not bool (it would fail every run with "expected true or false").
 */

const withTrigger = (source: string) => `${HEADER}triggers:
  - source: ${source}
steps:
  - { id: a, kind: action, action: log, params: { message: hi } }
`;

describe('trigger sources', () => {
  it('refuses sources no event can have, at the value, listing the accepted forms', () => {
    expect(check(withTrigger('bogus')).lines).toEqual([
      "7:5 triggers.0.source: unknown trigger source 'bogus': an event's source is one of alertmanager, pagerduty, generic:<name>, slo, drill, manual",
    ]);
    expect(check(withTrigger('"generic:"')).lines).toEqual([
      "7:5 triggers.0.source: unknown trigger source 'generic:': an event's source is one of alertmanager, pagerduty, generic:<name>, slo, drill, manual (a generic source name is 1 to 63 letters, digits, '_', '.' or '-', starting with a letter or digit, as in POST /webhooks/generic/<name>)",
    ]);
    expect(check(withTrigger('[alertmanager, Slo]')).lines).toEqual([
      "7:28 triggers.0.source.1: unknown trigger source 'Slo': an event's source is one of alertmanager, pagerduty, generic:<name>, slo, drill, manual (sources are lower case: 'slo')",
    ]);
  });

  it('accepts every source an event can have; generic names as the webhook route accepts them', () => {
    for (const s of ['alertmanager', 'pagerduty', 'slo', 'drill', 'manual', 'generic:my-app', 'generic:a', `generic:${'x'.repeat(63)}`, 'generic:Team.ci_2'])
      expect(triggerSourceProblem(s), s).toBeUndefined();
    for (const s of ['generic:-x', 'generic:.x', `generic:${'x'.repeat(64)}`, 'generic:a/b', 'generic', 'trigger:slo', 'prometheus'])
      expect(triggerSourceProblem(s), s).toBeDefined();
    expect(check(withTrigger('[alertmanager, pagerduty, "generic:ci", slo, drill, manual]')).lines).toEqual([]);
  });
});

const withCondition = (when: string) => `${HEADER}inputs:
  dry: { type: boolean, default: true }
  name: { type: string, default: x }
  ratio: { type: number, default: 0.5 }
  count: { type: integer, default: 1 }
env: [REGION]
steps:
  - { id: a, kind: action, action: log, params: { message: hi } }
  - id: b
    kind: action
    action: log
    params: { message: hi }
    when: ${when}
`;

describe('conditions of a known non-bool type', () => {
  it.each([
    [`'"yes"'`, '"yes"', 'a string'],
    ['trigger.severity', 'trigger.severity', 'a string'],
    ['trigger.labels.team', 'trigger.labels.team', 'a string'],
    ['inputs.name', 'inputs.name', 'a string'],
    ['inputs.count', 'inputs.count', 'an int'],
    ['env.REGION', 'env.REGION', 'a string'],
    ['size(run.events)', 'size(run.events)', 'an int'],
    ['"[1]"', '[1]', 'a list<int>'],
    ['trigger.?severity', 'trigger.?severity', 'an optional<string>'],
  ])('refuses when: %s', (when, source, type) => {
    expect(check(withCondition(when)).lines).toEqual([
      `18:5 condition '${source}' yields ${type}, never true or false: compare it (e.g. ==, in, has()) so it yields a bool`,
    ]);
  });

  it.each([
    'trigger.severity == "critical"',
    'has(trigger.labels.team)',
    'trigger.resolved',
    'run.drill',
    'inputs.dry',
    'inputs.ratio > 0.2',
    // dyn: could be a bool at run time, so it passes.
    'inputs.ratio',
    'steps.a.output',
    'steps.a.output.ok',
    'trigger.payload.ok',
    'dyn("x")',
    'trigger.labels.?team.orValue("none") == "payments"',
    'size(run.events) > 0',
  ])('accepts when: %s', (when) => {
    expect(check(withCondition(`'${when}'`)).lines).toEqual([]);
  });

  it('checks decide branches and until.match too', () => {
    const text = `${HEADER}steps:
  - id: pick
    kind: decide
    branches:
      - { when: 'trigger.summary', next: wait }
    default: wait
  - id: wait
    kind: wait
    until: { event: deploy.finished, match: 'event.ok' }
    timeout: 10m
  - id: wait2
    kind: wait
    until: { event: deploy.finished, match: '"x"' }
    timeout: 10m
  - { id: done, kind: action, action: log, params: { message: hi } }
`;
    const lines = check(text).lines;
    expect(lines).toContain(
      "10:11 condition 'trigger.summary' yields a string, never true or false: compare it (e.g. ==, in, has()) so it yields a bool",
    );
    expect(lines).toContain(`18:38 condition '"x"' yields a string, never true or false: compare it (e.g. ==, in, has()) so it yields a bool`);
    expect(lines).toHaveLength(2);
    expect(lines.some((l) => l.includes("'event.ok'"))).toBe(false);
  });

  it('passes what it cannot type: the compile is the judge of validity', () => {
    expect(conditionTypeProblem('trigger.nosuchfield', {})).toBeUndefined();
    expect(conditionTypeProblem('inputs.undeclared', {})).toBeUndefined();
  });
});
