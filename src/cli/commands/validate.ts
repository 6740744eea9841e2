import { formatProblem, hasErrors } from '../../definitions/problem.js';
import { listYamlFiles, readYamlFile } from '../../definitions/source.js';
import { validateDocuments } from '../../definitions/validators.js';
import { type Command, cliConfig, parseOptions } from '../command.js';

export const validateCommand: Command = {
  path: ['validate'],
  summary: 'validate SLO and playbook files; exit 0 valid, 1 invalid with file:line:col per problem',
  help: `Usage: quench validate [PATH...]

Validates SLO files (quench/v1 SLO, OpenSLO openslo/v1) and playbooks (quench/v1 Playbook).
PATH may be files or folders (*.yaml, *.yml, searched recursively); the default is
QUENCH_SLO_DIR and QUENCH_PLAYBOOK_DIR (./slo and ./playbooks).
Every problem is printed as file:line:col: message. Exit 0 when valid (warnings allowed),
1 when any problem is an error, 2 on usage errors.`,
  async run(args, io) {
    const { positionals } = parseOptions(args, {}, true);
    const config = positionals.length === 0 ? cliConfig(io) : undefined;
    const paths = config ? [config.QUENCH_SLO_DIR, config.QUENCH_PLAYBOOK_DIR] : positionals;
    const files = listYamlFiles(paths);
    if (files.length === 0) {
      io.stderr(`no YAML files found in ${paths.join(', ')}\n`);
      return 1;
    }
    const parsed = files.map(readYamlFile);
    const problems = [...parsed.flatMap((f) => f.problems), ...validateDocuments(parsed.flatMap((f) => f.documents))];
    problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
    for (const p of problems) io.stdout(`${formatProblem(p)}\n`);
    const documents = parsed.reduce((n, f) => n + f.documents.length, 0);
    const errors = problems.filter((p) => p.severity === 'error').length;
    io.stderr(`${files.length} file(s), ${documents} document(s): ${errors === 0 ? 'valid' : `${errors} error(s)`}\n`);
    return hasErrors(problems) ? 1 : 0;
  },
};
