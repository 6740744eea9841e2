import { z } from 'zod';
import { parseYamlSource } from '../../../src/definitions/source.js';
import { type ActionSpec, catalogOf } from '../../../src/playbooks/core/catalog.js';
import { checkPlaybookDocuments } from '../../../src/playbooks/validator.js';

/**
 * A small action catalog shaped like the built-ins (strict parameter objects), so validator
 * tests do not depend on which actions the engine registers.
 */
export const fixtureCatalog = catalogOf([
  {
    name: 'http.request',
    changesState: true,
    params: z.strictObject({
      url: z.string().url(),
      method: z.enum(['GET', 'POST', 'PUT', 'DELETE']).default('POST'),
      body: z.unknown().optional(),
      headers: z.record(z.string(), z.string()).default({}),
    }),
  },
  { name: 'log', changesState: false, params: z.strictObject({ message: z.string(), level: z.enum(['info', 'warn']).default('info') }) },
  {
    name: 'deploy.scale',
    changesState: true,
    params: z.strictObject({ service: z.string().min(1), replicas: z.int().min(1).max(50) }),
    compensation: { action: 'deploy.scale', params: { service: `\${{ steps.scale.params.service }}`, replicas: 3 } },
  },
  {
    name: 'pagerduty.trigger',
    changesState: true,
    params: z.strictObject({ summary: z.string().min(1) }),
    compensation: { action: 'pagerduty.resolve' },
  },
  { name: 'pagerduty.resolve', changesState: true, params: z.strictObject({ dedupKey: z.string().optional() }) },
] satisfies ActionSpec[]);

/** Validates YAML text as one file; problems as `line:col message` strings for exact assertions. */
export function check(text: string, file = 'pb.yaml') {
  const parsed = parseYamlSource(file, text);
  const result = checkPlaybookDocuments(parsed.documents, fixtureCatalog);
  // Sorted by position, as `quench validate` prints them.
  const problems = [...parsed.problems, ...result.problems].sort((a, b) => a.line - b.line || a.col - b.col);
  return { ...result, problems, lines: problems.map((p) => `${p.line}:${p.col} ${p.message}`) };
}

/** A valid playbook header; tests append their `steps:`. */
export const HEADER = `apiVersion: quench/v1
kind: Playbook
metadata:
  name: checkout-test
  owner: team-checkout
`;
