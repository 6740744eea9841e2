import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseYamlSource } from '../../../src/definitions/source.js';
import { knownActions } from '../../../src/playbooks/catalog.js';
import { stepSchema } from '../../../src/playbooks/core/steps-schema.js';
import { checkPlaybookDocuments } from '../../../src/playbooks/validator.js';

/** The examples in docs/playbooks.md are checked, so the reference cannot drift from the format. */
const blocks = [...readFileSync('docs/playbooks.md', 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);

describe('docs/playbooks.md examples', () => {
  it('has examples', () => {
    expect(blocks.length).toBeGreaterThan(5);
  });

  it('every complete playbook in it validates against the real actions', () => {
    const full = blocks.filter((b) => b.startsWith('apiVersion:'));
    expect(full.length).toBeGreaterThan(0);
    for (const text of full) {
      const parsed = parseYamlSource('docs/playbooks.md', text);
      expect(checkPlaybookDocuments(parsed.documents, knownActions()).problems).toEqual([]);
    }
  });

  it('every step snippet in it parses as a step', () => {
    const snippets = blocks.filter((b) => b.startsWith('- '));
    expect(snippets.length).toBeGreaterThan(3);
    for (const text of snippets) {
      const parsed = parseYamlSource('snippet.yaml', text);
      expect(parsed.problems).toEqual([]);
      for (const doc of parsed.documents) {
        const r = stepSchema.safeParse(doc.value);
        expect(r.error?.issues ?? []).toEqual([]);
      }
    }
  });
});
