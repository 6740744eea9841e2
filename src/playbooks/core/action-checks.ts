import type { z } from 'zod';
import type { ActionCatalog } from './catalog.js';
import { closest, type GraphProblem } from './graph.js';
import { isWholeTemplate } from './templates.js';

/**
 * Checks an `action:` name and its `params` against the catalog. Parameters are checked as
 * written, before rendering: below a value that is wholly a `${{ expr }}` template the type is
 * only known at run time, so issues there are not reported (the engine parses the rendered
 * parameters with the same schema before the action runs). Missing and unknown parameters are
 * always reported.
 */
export function checkActionCall(
  catalog: ActionCatalog,
  call: { action: string; params?: Record<string, unknown> },
  at: { action: PropertyKey[]; params: PropertyKey[] },
): GraphProblem[] {
  const spec = catalog.get(call.action);
  if (!spec) {
    const hint = closest(call.action, catalog.names());
    const known = catalog.names().join(', ') || 'none registered';
    return [
      { path: at.action, message: `unknown action '${call.action}'${hint ? ` (did you mean '${hint}'?)` : ''}; known actions: ${known}` },
    ];
  }
  const params = call.params ?? {};
  const result = spec.params.safeParse(params);
  if (result.success) return [];
  return result.error.issues.flatMap((issue) => locate(issue, params, at.params, call.action));
}

function locate(issue: z.core.$ZodIssue, params: unknown, base: PropertyKey[], action: string): GraphProblem[] {
  if (templatedAlong(params, issue.path)) return [];
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      path: [...base, ...issue.path, key],
      message: `${action}: unknown parameter '${[...issue.path, key].map(String).join('.')}'`,
    }));
  }
  const value = valueAt(params, issue.path);
  const name = issue.path.map(String).join('.');
  if (value === undefined && issue.code === 'invalid_type') {
    return [{ path: [...base, ...issue.path], message: `${action}: missing parameter '${name}' (${issue.message})` }];
  }
  return [{ path: [...base, ...issue.path], message: `${action}: parameter '${name || '(params)'}': ${issue.message}` }];
}

/** Whether the value at `path`, or any value on the way to it, is a whole template. */
function templatedAlong(root: unknown, path: PropertyKey[]): boolean {
  let node = root;
  for (let i = 0; i <= path.length; i++) {
    if (typeof node === 'string' && isWholeTemplate(node)) return true;
    if (i === path.length || node === null || typeof node !== 'object') return false;
    node = (node as Record<PropertyKey, unknown>)[path[i]!];
  }
  return false;
}

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}
