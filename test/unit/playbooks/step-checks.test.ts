import { describe, expect, it } from 'vitest';
import { requiredApprovals } from '../../../src/playbooks/core/human-schema.js';
import { resolveInputs } from '../../../src/playbooks/core/inputs.js';
import { check, HEADER } from './fixtures.js';

// HEADER is lines 1-5; `steps:` (or the first extra section) starts on line 6.

describe('human steps', () => {
  it('needs options for a choice and refuses fields of other types', () => {
    const { lines } = check(`${HEADER}steps:
  - id: pick
    kind: human
    type: choice
    prompt: Which?
  - id: ok
    kind: human
    type: approve
    prompt: Go?
    options: [{ value: a }, { value: b }]
    input: { label: why }
`);
    expect(lines).toEqual([
      '9:5 a choice step needs options (at least two)',
      '15:5 options apply to type: choice, not approve',
      '16:5 input applies to type: input, not approve',
    ]);
  });

  it('refuses an option value Slack could not carry, at its place, saying to shorten it', () => {
    const { lines } = check(`${HEADER}steps:
  - id: pick
    kind: human
    type: choice
    prompt: Which?
    options: [{ value: ${'v'.repeat(100)} }, { value: ${'w'.repeat(101)} }]
`);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^11:\d+ steps\.0\.options\.1\.value: .*at most 100 characters.*put the words people read in label/);
  });

  it('checks assignment: exactly one target, and pagerduty needs exactly one of policy or schedule', () => {
    const { lines } = check(`${HEADER}steps:
  - id: a
    kind: human
    type: approve
    prompt: Go?
    assign: { users: [ana], slack: { userGroup: oncall } }
  - id: b
    kind: human
    type: approve
    prompt: Go?
    assign:
      pagerduty: {}
    sla: { within: 5m, escalateTo: next-level }
  - id: c
    kind: human
    type: approve
    prompt: Go?
    assign: { users: [ana] }
    sla: { within: 5m, escalateTo: next-level, reassign: true }
`);
    expect(lines).toEqual([
      '11:5 assign needs exactly one of pagerduty, slack or users (got slack, users)',
      '17:7 assign.pagerduty needs exactly one of escalationPolicy or schedule',
      '18:24 escalateTo: next-level needs assign.pagerduty.escalationPolicy; name users or a group instead',
      '24:24 escalateTo: next-level needs assign.pagerduty.escalationPolicy; name users or a group instead',
    ]);
  });

  it('applies SLA and assignment defaults', () => {
    const { playbooks, problems } = check(`${HEADER}steps:
  - id: a
    kind: human
    type: approve
    prompt: Go?
    risk: high
    assign: { slack: { userGroup: oncall } }
    sla: { within: 20m, escalateTo: { users: [lead] }, reassign: true }
`);
    expect(problems).toEqual([]);
    const step = playbooks[0]!.playbook.steps[0]!;
    expect(step).toMatchObject({ assign: { slack: { strategy: 'round-robin', wipLimit: 3 } }, sla: { remindAt: 0.5 } });
    expect(requiredApprovals(step)).toBe(2);
    expect(requiredApprovals({ risk: 'medium' })).toBe(1);
  });

  it('accepts confidence as a number or one template, nothing else', () => {
    const ok = check(`${HEADER}steps:
  - { id: a, kind: human, type: approve, prompt: Go?, confidence: 0.8 }
  - { id: b, kind: human, type: approve, prompt: Go?, confidence: "\${{ steps.a.output.score }}" }
  - { id: c, kind: human, type: approve, prompt: Go?, confidence: high }
`);
    expect(ok.lines).toEqual([`9:55 confidence is a number from 0 to 1, or a template (\${{ expr }}) yielding one`]);
    const big = check(`${HEADER}steps:
  - { id: d, kind: human, type: approve, prompt: Go?, confidence: 1.5 }
`);
    expect(big.lines).toEqual(['7:55 steps.0.confidence: Too big: expected number to be <=1']);
  });
});

describe('wait, retry, fallback and decide rules', () => {
  it('a wait needs exactly one of duration or until, and until needs a timeout', () => {
    const { lines } = check(`${HEADER}steps:
  - { id: a, kind: wait }
  - { id: b, kind: wait, duration: 5m, until: { event: alert.resolved }, timeout: 1m }
  - { id: c, kind: wait, until: { event: alert.resolved, match: "event.labels.x ==" } }
`);
    expect(lines).toEqual([
      '7:5 a wait step needs exactly one of duration or until',
      '8:5 a wait step needs exactly one of duration or until',
      '9:26 waiting until an event needs a timeout, or the run could wait forever',
      "9:58 CEL syntax error at character 18 of 'event.labels.x ==': Unexpected token: EOF",
    ]);
  });

  it('retry delays must be ordered and retry/compensate apply to actions only', () => {
    const { lines } = check(`${HEADER}steps:
  - id: a
    kind: action
    action: log
    params: { message: x }
    retry: { maxAttempts: 3, initialDelay: 1m, maxDelay: 10s }
  - id: b
    kind: wait
    duration: 1m
    retry: { maxAttempts: 2 }
    compensate: { action: log, params: { message: undo } }
`);
    expect(lines).toEqual([
      '11:48 retry.maxDelay (10s) is shorter than retry.initialDelay (1m)',
      '15:5 retry applies to action steps only; a wait step is not retried',
      '16:5 compensate applies to action steps only',
    ]);
  });

  it('a fallback is an action or steps, not both; its steps are checked like any others', () => {
    const { lines } = check(`${HEADER}steps:
  - id: a
    kind: action
    action: log
    params: { message: x }
    fallback:
      action: log
      steps: [{ id: f1, kind: action, action: log, params: { message: y } }]
  - id: b
    kind: action
    action: log
    params: { message: x }
    fallback:
      steps:
        - { id: f2, kind: action, action: log, params: { msg: y } }
        - { id: f3, kind: action, action: log, params: { message: y }, next: a }
`);
    expect(lines).toEqual([
      '11:5 fallback needs exactly one of action (with params) or steps',
      "20:48 log: missing parameter 'message' (Invalid input: expected string, received undefined)",
      "20:58 log: unknown parameter 'msg'",
      "21:72 step 'a' is in the top level; jumps must stay within the fallback of 'b'",
    ]);
  });

  it('a decide step uses branches and default, not next', () => {
    const { lines } = check(`${HEADER}steps:
  - id: d
    kind: decide
    branches: [{ when: "true", next: e }]
    next: e
  - { id: e, kind: action, action: log, params: { message: x } }
`);
    expect(lines).toEqual(['10:5 a decide step jumps through its branches and default, not next']);
  });

  it('end finishes the run; steps after an unconditional jump to end are unreachable', () => {
    const { lines } = check(`${HEADER}steps:
  - { id: a, kind: action, action: log, params: { message: x }, next: end }
  - { id: b, kind: action, action: log, params: { message: x } }
`);
    expect(lines).toEqual(["8:7 step 'b' is unreachable: no step of the top level leads to it"]);
  });

  it('a cycle through several steps is reported once with its path', () => {
    const { lines } = check(`${HEADER}inputs: { again: { type: boolean, default: false } }
steps:
  - { id: a, kind: action, action: log, params: { message: x } }
  - { id: b, kind: action, action: log, params: { message: x } }
  - id: c
    kind: decide
    branches: [{ when: "inputs.again == true", next: a }]
    default: end
`);
    expect(lines).toEqual(['12:48 cycle: a → b → c → a; loops are not allowed (use retry, or wait … until with a timeout)']);
  });
});

describe('inputs and env', () => {
  it('checks defaults against types and env names listed twice (QUENCH_TEMPLATE_ENV, not the playbook, decides what templates see)', () => {
    const { lines } = check(`${HEADER}inputs:
  replicas: { type: integer, default: 2.5 }
  region: { type: string, enum: [eu, us], default: ap }
  wait: { type: duration, default: 5 minutes }
env: [REGION, PAGERDUTY_TOKEN, DATABASE_URL, REGION]
steps:
  - { id: a, kind: action, action: log, params: { message: x } }
`);
    expect(lines).toEqual([
      "7:30 default of input 'replicas': expected an integer, got 2.5",
      '8:43 default of input \'region\': expected one of "eu", "us"',
      '9:27 default of input \'wait\': expected a duration, got "5 minutes"',
      '10:46 env REGION listed twice',
    ]);
  });

  it('resolves run inputs with defaults, and reports unknown, missing and ill-typed ones', () => {
    const playbook = {
      inputs: {
        replicas: { type: 'integer' as const, default: 3, required: false },
        reason: { type: 'string' as const, required: true },
        dryRun: { type: 'boolean' as const, required: false },
      },
    };
    expect(resolveInputs(playbook, { reason: 'deploy 42' })).toEqual({ ok: true, inputs: { replicas: 3, reason: 'deploy 42' } });
    expect(resolveInputs(playbook, { replicas: '4', extra: 1 })).toEqual({
      ok: false,
      problems: ["unknown input 'extra'", 'input \'replicas\': expected an integer, got "4"', "input 'reason' is required"],
    });
  });
});
