import { describe, expect, it } from 'vitest';
import { resolveInputs } from '../../../src/engine/sql/start-run.js';
import { playbookSchema } from '../../../src/playbooks/core/model.js';

// A run starts only with inputs that fit the playbook's declarations, by the same rules
// `quench validate` applies to defaults.
const playbook = playbookSchema.parse({
  apiVersion: 'quench/v1',
  kind: 'Playbook',
  metadata: { name: 'inputs-demo', owner: 'sre' },
  inputs: {
    namespace: { type: 'string', default: 'shop' },
    replicas: { type: 'integer', required: true },
  },
  steps: [{ id: 'note', kind: 'action', action: 'log', params: { message: 'hi' } }],
});

describe('run inputs', () => {
  it('fills defaults and keeps given values', () => {
    expect(resolveInputs(playbook, { replicas: 3 })).toEqual({ namespace: 'shop', replicas: 3 });
  });

  it('refuses unknown, missing and ill-typed inputs, naming each', () => {
    expect(() => resolveInputs(playbook, {})).toThrow(/input 'replicas' is required/);
    expect(() => resolveInputs(playbook, { replicas: 'three' })).toThrow(/input 'replicas': expected an integer, got "three"/);
    expect(() => resolveInputs(playbook, { replicas: 2, region: 'eu' })).toThrow(/unknown input 'region'.*declares: namespace, replicas/);
  });
});
