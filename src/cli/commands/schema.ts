import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { QuenchError } from '../../core/errors.js';
import { playbookSchema } from '../../playbooks/core/playbook-schema.js';
import { quenchSloSchema } from '../../slo/formats/quench-schema.js';
import { type Command, parseOptions } from '../command.js';

/**
 * `quench schema KIND`: JSON Schema for editors, generated from the zod schema that validates
 * the format, so the two cannot drift. To add a format, add one entry to `schemaKinds`.
 */
export interface SchemaKind {
  name: string;
  title: string;
  schema: z.ZodType;
}

export const schemaKinds: SchemaKind[] = [
  { name: 'playbook', title: 'Quench playbook (apiVersion quench/v1, kind Playbook)', schema: playbookSchema },
  { name: 'slo', title: 'Quench SLO (apiVersion quench/v1, kind SLO)', schema: quenchSloSchema },
];

/** The JSON Schema (draft 2020-12) of a kind, describing what a file may contain (defaults not yet applied). */
export function jsonSchemaOf(kind: SchemaKind): Record<string, unknown> {
  // `io: 'input'`: editors check what authors write, before defaults; checks zod cannot express
  // in JSON Schema (durations' bounds, CEL, references) are left to `quench validate`.
  const generated = z.toJSONSchema(kind.schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' });
  const { $schema, ...rest } = generated as Record<string, unknown>;
  return { $schema, $id: `urn:quench:schema:${kind.name}`, title: kind.title, ...rest };
}

const names = () => schemaKinds.map((k) => k.name).join(', ');

export const schemaCommand: Command = {
  path: ['schema'],
  summary: 'print the JSON Schema of a definition format (playbook, slo) for editors',
  help: `Usage: quench schema KIND [--out FILE]

Prints the JSON Schema (draft 2020-12) of a Quench file format, generated from the same zod
schema that 'quench validate' uses. KIND is one of: ${names()}.
  --out FILE   write the schema to FILE instead of stdout

Editors: with the YAML language server, put this first line in a playbook:
  # yaml-language-server: $schema=./playbook.schema.json
after 'quench schema playbook --out playbook.schema.json'.
Exit 0 on success, 2 on usage errors.`,
  async run(args, io) {
    const { positionals, values } = parseOptions(args, { out: { type: 'string' } }, true);
    if (positionals.length !== 1) throw new QuenchError('usage', `expected one KIND: ${names()}`);
    const kind = schemaKinds.find((k) => k.name === positionals[0]);
    if (!kind) throw new QuenchError('usage', `unknown KIND '${positionals[0]}'; expected one of: ${names()}`);
    const text = `${JSON.stringify(jsonSchemaOf(kind), null, 2)}\n`;
    if (values.out) {
      writeFileSync(values.out, text);
      io.stderr(`wrote ${values.out}\n`);
    } else io.stdout(text);
    return 0;
  },
};
