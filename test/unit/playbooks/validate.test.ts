import { describe, expect, it } from 'vitest';
import { check, HEADER } from './fixtures.js';

// Line numbers: HEADER is lines 1-5, so `steps:` is line 6 and the first step starts on line 7.
// Columns were counted by hand from the YAML below (flow maps included), not copied from output.

describe('playbook validation: valid files', () => {
  it('accepts a playbook using every step kind', () => {
    const { problems, playbooks } = check(`${HEADER}inputs:
  replicas: { type: integer, default: 6 }
steps:
  - id: page
    kind: action
    action: pagerduty.trigger
    params: { summary: "checkout errors: \${{ trigger.summary }}" }
  - id: approve
    kind: human
    type: approve
    prompt: Scale checkout to \${{ inputs.replicas }} replicas?
    risk: high
    assign: { users: [alice, bob] }
    sla: { within: 10m }
  - id: scale
    kind: action
    action: deploy.scale
    params: { service: checkout, replicas: "\${{ inputs.replicas }}" }
    retry: { maxAttempts: 3, initialDelay: 2s, maxDelay: 30s }
  - id: check
    kind: decide
    branches:
      - when: steps.scale.output.ok == true
        next: settle
    default: notify
  - id: notify
    kind: parallel
    branches:
      - steps:
          - { id: note, kind: action, action: log, params: { message: scaled } }
      - steps:
          - { id: note2, kind: action, action: log, params: { message: also } }
  - id: settle
    kind: wait
    until: { event: alert.resolved }
    timeout: 30m
`);
    expect(problems).toEqual([]);
    expect(playbooks).toHaveLength(1);
    const p = playbooks[0]!.playbook;
    expect(p.steps.map((s) => s.kind)).toEqual(['action', 'human', 'action', 'decide', 'parallel', 'wait']);
    // Defaults are applied in the parsed model.
    expect(p.steps[0]).toMatchObject({ onFailure: 'compensate', risk: 'low', drillSafe: false });
    expect(p.steps[2]).toMatchObject({ retry: { backoff: 'exponential', maxAttempts: 3 } });
  });
});

describe('playbook validation: located problems', () => {
  it('reports a jump to an unknown step at its next: key, with a suggestion', () => {
    const { lines } = check(`${HEADER}steps:
  - id: first
    kind: action
    action: log
    params: { message: hi }
    next: secnd
  - id: second
    kind: action
    action: log
    params: { message: there }
`);
    expect(lines).toEqual([
      "11:5 unknown step 'secnd' (did you mean 'second'?)",
      "12:5 step 'second' is unreachable: no step of the top level leads to it",
    ]);
  });

  it('reports a broken decide branch reference at the branch', () => {
    const { lines } = check(`${HEADER}steps:
  - id: choose
    kind: decide
    branches:
      - when: trigger.severity == "critical"
        next: rollback
  - id: done
    kind: action
    action: log
    params: { message: done }
`);
    expect(lines).toEqual(["11:9 unknown step 'rollback'"]);
  });

  it('rejects a backward decide jump as a cycle, with the cycle path', () => {
    const { lines } = check(`${HEADER}steps:
  - id: probe
    kind: action
    action: log
    params: { message: probe }
  - id: again
    kind: decide
    branches:
      - when: trigger.severity == "critical"
        next: probe
    default: end
`);
    expect(lines).toEqual(['15:9 cycle: probe → again → probe; loops are not allowed (use retry, or wait … until with a timeout)']);
  });

  it('reports a CEL syntax error at the condition, with the character', () => {
    const { lines } = check(`${HEADER}steps:
  - id: maybe
    kind: action
    when: trigger.severity == "critical" &&
    action: log
    params: { message: x }
`);
    expect(lines).toEqual(['9:5 CEL syntax error at character 34 of \'trigger.severity == "critical" &&\': Unexpected token: EOF']);
  });

  it('reports a bad template expression inside params at the parameter', () => {
    const { lines } = check(`${HEADER}steps:
  - id: say
    kind: action
    action: log
    params:
      message: "replicas: \${{ inputs.replicas + }}"
`);
    // The expression starts at character 15 of the string; its EOF (17 characters later) is character 32.
    expect(lines).toEqual([`11:7 template syntax error at character 32 of 'replicas: \${{ inputs.replicas + }}': Unexpected token: EOF`]);
  });

  it('reports an unknown variable as a type error', () => {
    const { lines } = check(`${HEADER}steps:
  - { id: a, kind: action, action: log, params: { message: x }, when: "secrets.token != ''" }
`);
    expect(lines).toEqual(["7:65 CEL type error at character 1 of 'secrets.token != ''': Unknown variable: secrets"]);
  });

  it('reports an expression reading an unknown step', () => {
    const { lines } = check(`${HEADER}steps:
  - id: a
    kind: action
    action: log
    params: { message: "\${{ steps.diagnose.output.summary }}" }
`);
    expect(lines).toEqual(["10:15 expression reads steps.diagnose, but there is no step 'diagnose'"]);
  });

  it('reports an unknown action with the known ones', () => {
    const { lines } = check(`${HEADER}steps:
  - id: roll
    kind: action
    action: deploy.scal
    params: { service: checkout, replicas: 2 }
`);
    expect(lines).toEqual([
      "9:5 unknown action 'deploy.scal' (did you mean 'deploy.scale'?); known actions: deploy.scale, http.request, log, pagerduty.resolve, pagerduty.trigger",
    ]);
  });

  it('reports a bad, a missing and an unknown parameter at their fields', () => {
    const { lines } = check(`${HEADER}steps:
  - id: scale
    kind: action
    action: deploy.scale
    params:
      replicas: 500
      size: large
`);
    expect(lines).toEqual([
      "10:5 deploy.scale: missing parameter 'service' (Invalid input: expected string, received undefined)",
      "11:7 deploy.scale: parameter 'replicas': Too big: expected number to be <=50",
      "12:7 deploy.scale: unknown parameter 'size'",
    ]);
  });

  it('does not type-check a parameter that is wholly a template, but does check interpolated text', () => {
    const { lines } = check(`${HEADER}inputs: { n: { type: integer, default: 2 } }
steps:
  - id: scale
    kind: action
    action: deploy.scale
    params: { service: checkout, replicas: "\${{ inputs.n }}" }
  - id: scale2
    kind: action
    action: deploy.scale
    params: { service: checkout, replicas: "n=\${{ inputs.n }}" }
`);
    expect(lines).toEqual(["15:34 deploy.scale: parameter 'replicas': Invalid input: expected number, received string"]);
  });

  it('checks compensate and fallback actions against the catalog', () => {
    const { lines } = check(`${HEADER}steps:
  - id: page
    kind: action
    action: pagerduty.trigger
    params: { summary: s }
    compensate: { action: pagerduty.resolve, params: { key: x } }
    fallback: { action: nope }
`);
    expect(lines).toEqual([
      "11:56 pagerduty.resolve: unknown parameter 'key'",
      "12:17 unknown action 'nope'; known actions: deploy.scale, http.request, log, pagerduty.resolve, pagerduty.trigger",
    ]);
  });

  it('reports duplicate step ids, also across nested lists', () => {
    const { lines } = check(`${HEADER}steps:
  - id: fan
    kind: parallel
    branches:
      - steps:
          - { id: note, kind: action, action: log, params: { message: a } }
  - { id: note, kind: action, action: log, params: { message: b } }
`);
    expect(lines).toEqual(["12:7 duplicate step id 'note' (first used at steps.0.branches.0.steps.0.id)"]);
  });

  it('refuses jumps out of a parallel branch', () => {
    const { lines } = check(`${HEADER}steps:
  - id: fan
    kind: parallel
    branches:
      - steps:
          - { id: inner, kind: action, action: log, params: { message: a }, next: after }
  - { id: after, kind: action, action: log, params: { message: b } }
`);
    expect(lines).toEqual(["11:77 step 'after' is in the top level; jumps must stay within the branch 1 of parallel 'fan'"]);
  });

  it('reports zod problems at their field', () => {
    const { lines } = check(`${HEADER}steps:
  - id: wait1
    kind: wait
    duration: 5 minutes
  - id: Bad-Id
    kind: action
    action: log
    params: { message: x }
    onFailure: retry
`);
    expect(lines).toEqual([
      "9:5 steps.0.duration: invalid duration '5 minutes'; expected a duration such as 30s, 5m, 1h30m, 1.5h or 1w (units w, d, h, m, s, ms, largest first)",
      '10:5 steps.1.id: step ids are letters, digits and _ starting with a letter (expressions read steps.<id>.output)',
      '14:5 steps.1.onFailure: Invalid option: expected one of "compensate"|"escalate"|"continue"',
    ]);
  });

  it('reports an unknown step kind at kind', () => {
    const { lines } = check(`${HEADER}steps:
  - id: a
    kind: script
`);
    expect(lines).toEqual(["8:5 steps.0.kind: Invalid discriminator value. Expected 'action' | 'human' | 'decide' | 'wait' | 'parallel'"]);
  });

  it('reports duplicate playbook names across files', () => {
    const one = check(`${HEADER}steps:\n  - { id: a, kind: action, action: log, params: { message: x } }\n`);
    expect(one.problems).toEqual([]);
    const text = `${HEADER}steps:\n  - { id: a, kind: action, action: log, params: { message: x } }\n`;
    const both = check(`${text}---\n${text}`);
    expect(both.lines).toEqual(["12:3 duplicate playbook name 'checkout-test' (also defined at pb.yaml:4:3)"]);
    expect(both.playbooks).toHaveLength(1);
  });
});

describe('playbook validation: typos and impossible triggers', () => {
  it('reports an unknown field at the field, with the likely intended name', () => {
    const { lines } = check(`${HEADER}steps:
  - id: a
    kind: action
    action: log
    params: { message: x }
    onFaliure: continue
`);
    expect(lines).toEqual(["11:5 steps.0.onFaliure: unknown field 'onFaliure' (did you mean 'onFailure'?)"]);
  });

  it('reports a trigger whose slo condition cannot hold for its event types', () => {
    const { lines } = check(`${HEADER}triggers:
  - { type: alert.firing, slo: { name: checkout } }
  - { type: [slo.burn, alert.firing], slo: { name: checkout } }
steps:
  - { id: a, kind: action, action: log, params: { message: x } }
`);
    expect(lines).toEqual(['7:27 trigger 1 can never match: slo conditions hold only for slo.* events, not alert.firing']);
  });
});

describe('playbook validation: references in expressions', () => {
  it('reports inputs that are not declared and env variables that are not listed', () => {
    const { lines } = check(`${HEADER}inputs: { replicas: { type: integer, default: 2 } }
env: [REGION]
steps:
  - id: a
    kind: action
    action: log
    when: has(env.REGION) && inputs.replicsa > 1
    params: { message: "\${{ env.HOME }} \${{ inputs.replicas }}" }
`);
    expect(lines).toEqual([
      "12:5 expression reads inputs.replicsa, but the playbook declares no input 'replicsa'",
      '13:15 expression reads env.HOME, but HOME is not listed in env (only listed variables are visible)',
    ]);
  });
});
