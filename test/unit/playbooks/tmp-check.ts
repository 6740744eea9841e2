import { z } from 'zod';
import { playbookSchema, type Playbook } from '../../../src/playbooks/core/playbook-schema.js';
import type { Step } from '../../../src/playbooks/core/steps-schema.js';
const s: Step = { kind: 'parallel', id: 'x', branches: [{ steps: [{ kind: 'action', id: 'y', action: 'log', params: {}, onFailure: 'continue', risk: 'low', drillSafe: true }] }], onFailure: 'continue', risk: 'low', drillSafe: true };
// @ts-expect-error bad kind
const bad: Step = { kind: 'nope', id: 'x' };
const p: Playbook['steps'][number]['kind'] = 'human';
console.log(s, bad, p, JSON.stringify(z.toJSONSchema(playbookSchema, { io: 'input' })).length);
console.log(JSON.stringify(z.toJSONSchema(playbookSchema, { io: 'input' }), null, 1).slice(0, 3000));
