import type { Problem } from './problem.js';
import type { SourceDocument } from './source.js';

/**
 * Runs a family check so that one document it cannot cope with (a bug in a check, a value no
 * schema foresaw) becomes a located problem of that document instead of aborting `quench
 * validate`, a loader or a hot reload for every file. Normally `check` runs once on all
 * documents; only when it throws are the documents tried one by one, and `check` then runs
 * again on those that do not throw, so cross-document checks (duplicate names) still hold.
 */
export function guardedCheck<R>(docs: SourceDocument[], check: (docs: SourceDocument[]) => R): { result: R; problems: Problem[] } {
  try {
    return { result: check(docs), problems: [] };
  } catch {
    // Fall through: find the documents at fault.
  }
  const problems: Problem[] = [];
  const rest = docs.filter((doc) => {
    try {
      check([doc]);
      return true;
    } catch (err) {
      problems.push(crashProblem(doc, err));
      return false;
    }
  });
  try {
    return { result: check(rest), problems };
  } catch (err) {
    // Each is fine alone but not together: say so on each rather than lose them silently.
    return { result: check([]), problems: [...problems, ...rest.map((doc) => crashProblem(doc, err))] };
  }
}

function crashProblem(doc: SourceDocument, err: unknown): Problem {
  const message = String((err as Error)?.message ?? err).split('\n')[0];
  return doc.problem([], `this document could not be validated (${message}); this is a bug in Quench, please report it with the file`);
}
