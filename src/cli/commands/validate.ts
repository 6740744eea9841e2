import { formatProblem, hasErrors, type Problem } from '../../definitions/problem.js';
import { listYamlFiles, readYamlFile } from '../../definitions/source.js';
import { validateDocuments } from '../../definitions/validators.js';
import { type Command, cliConfig, parseOptions } from '../command.js';

/** One problem in `--json`: exactly these fields, whatever else a validator attaches. */
const problemJson = (p: Problem) => ({ file: p.file, line: p.line, col: p.col, severity: p.severity, message: p.message });

export const validateCommand: Command = {
  path: ['validate'],
  summary: 'validate SLO and playbook files; exit 0 valid, 1 invalid with file:line:col per problem',
  help: `Usage: quench validate [PATH...] [--json]

Validates SLO files (quench/v1 SLO, OpenSLO openslo/v1) and playbooks (quench/v1 Playbook).
PATH may be files or folders (*.yaml, *.yml, searched recursively); the default is
QUENCH_SLO_DIR and QUENCH_PLAYBOOK_DIR (./slo and ./playbooks).
Every problem is printed as file:line:col: message. Exit 0 when valid (warnings allowed),
1 when any problem is an error, 2 on usage errors.
  --json  {"valid","files","documents","errors","warnings","problems":[{"file","line","col","severity","message"}]}
          on stdout instead of the lines (same exit codes)`,
  async run(args, io) {
    const { values, positionals } = parseOptions(args, { json: { type: 'boolean' } }, true);
    const config = positionals.length === 0 ? cliConfig(io) : undefined;
    const paths = config ? [config.QUENCH_SLO_DIR, config.QUENCH_PLAYBOOK_DIR] : positionals;
    const files = listYamlFiles(paths);
    if (files.length === 0) {
      if (values.json) io.stdout(`${JSON.stringify({ valid: false, files: 0, documents: 0, errors: 0, warnings: 0, problems: [] }, null, 2)}\n`);
      io.stderr(`no YAML files found in ${paths.join(', ')}\n`);
      return 1;
    }
    const parsed = files.map(readYamlFile);
    const problems = [...parsed.flatMap((f) => f.problems), ...validateDocuments(parsed.flatMap((f) => f.documents))];
    problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
    const documents = parsed.reduce((n, f) => n + f.documents.length, 0);
    const errors = problems.filter((p) => p.severity === 'error').length;
    if (values.json) {
      const report = { valid: errors === 0, files: files.length, documents, errors, warnings: problems.length - errors, problems: problems.map(problemJson) };
      io.stdout(`${JSON.stringify(report, null, 2)}\n`);
      return hasErrors(problems) ? 1 : 0;
    }
    for (const p of problems) io.stdout(`${formatProblem(p)}\n`);
    io.stderr(`${files.length} file(s), ${documents} document(s): ${errors === 0 ? 'valid' : `${errors} error(s)`}\n`);
    return hasErrors(problems) ? 1 : 0;
  },
};
