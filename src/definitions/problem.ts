/**
 * A problem found in a definition file (SLO, OpenSLO document, playbook). `quench validate`
 * prints every problem as `file:line:col: message`, not just the first.
 */
export interface Problem {
  file: string;
  line: number;
  col: number;
  message: string;
  /** `error` fails validation; `warning` is printed but does not. */
  severity: 'error' | 'warning';
}

export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.severity === 'warning' ? 'warning: ' : ''}${p.message}`;
}

export function hasErrors(problems: Problem[]): boolean {
  return problems.some((p) => p.severity === 'error');
}
