import { describe, expect, it } from 'vitest';
import { parseYamlSource } from '../../../src/definitions/source.js';
import { validateDocuments } from '../../../src/definitions/validators.js';
import { checkUnparsedPlaybook } from '../../../src/playbooks/core/validate.js';
import { fixtureCatalog, HEADER } from './fixtures.js';

/**
 * "Prints every problem, not only the first": a schema error in one part of a playbook does not
 * hide the flow and expression problems of the parts that parse.
 */

const BROKEN = `${HEADER}  colour: blue
triggers:
  - source: alertmanager
    type: alert.resolved
    slo: { name: x }
inputs:
  dry: { type: boolean, default: "yes" }
env: [REGION, REGION]
steps:
  - { id: a, kind: action, action: log, params: { message: hi }, next: c }
  - { id: a, kind: action, action: log, params: { mesage: hi } }
  - { id: b, kind: action, action: nope, when: 'trigger.severity' }
  - id: d
    kind: decide
    branches:
      - { when: 'inputs.dry', next: zz }
      - { when: '1 +', next: a }
    extra: 1
`;

const lines = (text: string) =>
  validateDocuments(parseYamlSource('pb.yaml', text).documents)
    .sort((x, y) => x.line - y.line || x.col - y.col)
    .map((p) => `${p.line}:${p.col} ${p.message}`);

describe('one pass over a playbook with schema errors', () => {
  it('reports the schema problems and the semantic problems of the parts that parse', () => {
    expect(lines(BROKEN)).toEqual([
      "6:3 metadata.colour: unknown field 'colour'",
      '10:5 trigger 1 can never match: slo conditions hold only for slo.* events, not alert.resolved',
      `12:25 default of input 'dry': expected a boolean, got "yes"`,
      '13:15 env REGION listed twice',
      "15:66 unknown step 'c' (did you mean 'a'?)",
      "16:7 duplicate step id 'a' (first used at steps.0.id)",
      "16:41 log: missing parameter 'message' (Invalid input: expected string, received undefined)",
      "16:51 log: unknown parameter 'mesage'",
      expect.stringMatching(/^17:28 unknown action 'nope'; known actions: /),
      "17:42 condition 'trigger.severity' yields a string, never true or false: compare it (e.g. ==, in, has()) so it yields a bool",
      "21:31 unknown step 'zz' (did you mean 'a'?)",
      "22:11 CEL syntax error at character 4 of '1 +': Unexpected token: EOF",
      "23:5 steps.3.extra: unknown field 'extra'",
    ]);
  });

  it('does not guess: no unknown-target report in a list where a step has no id, no repeat of schema problems', () => {
    const text = `${HEADER}steps:
  - { id: a, kind: action, action: log, params: { message: hi }, next: later }
  - { kind: action, action: log, params: { message: hi } }
`;
    expect(lines(text)).toEqual(["8:5 steps.1.id: Invalid input: expected string, received undefined"]);
  });

  it('adds nothing for a playbook that parses (checkPlaybook covers it)', () => {
    const valid = parseYamlSource('ok.yaml', `${HEADER}steps:\n  - { id: a, kind: action, action: log, params: { message: hi }, next: nope }\n`);
    expect(checkUnparsedPlaybook(valid.documents[0]!.value, fixtureCatalog)).toEqual([]);
    expect(lines(`${HEADER}steps:\n  - { id: a, kind: action, action: log, params: { message: hi }, next: nope }\n`)).toEqual([
      "7:66 unknown step 'nope'",
    ]);
  });
});
