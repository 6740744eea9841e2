import { z } from 'zod';
import { jsonSchemaOf, schemaKinds } from '../cli/commands/schema.js';
import type { Router } from '../http/router.js';

/**
 * `GET /schemas/playbook.json` and `GET /schemas/slo.json`: the JSON Schemas editors use
 * (`# yaml-language-server: $schema=https://quench.example/schemas/playbook.json`), generated
 * from the zod schemas `quench validate` uses, as `quench schema` prints and schemas/ commits.
 * Public: they describe the formats, nothing stored.
 */
export function addSchemaRoutes(router: Router): void {
  for (const kind of schemaKinds) {
    const body = jsonSchemaOf(kind);
    router.add({
      method: 'GET',
      pattern: `/schemas/${kind.name}.json`,
      auth: 'public',
      doc: {
        summary: `The JSON Schema of the ${kind.name} format, for editors`,
        responses: { 200: { description: `As \`quench schema ${kind.name}\` prints it`, body: z.record(z.string(), z.unknown()).describe('A JSON Schema document') } },
      },
      handler: () => ({ status: 200, body, headers: { 'Cache-Control': 'public, max-age=300' } }),
    });
  }
}
