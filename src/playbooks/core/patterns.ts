import { RE2JS } from 're2js';

/**
 * Input step `pattern`s, matched against what a decider types (Slack, API, CLI: text from
 * people, on the request path). JavaScript's RegExp backtracks: `(a+)+$` against a long answer
 * runs for minutes. Patterns therefore run on RE2 (re2js, a pure-JS port: linear time, no
 * backtracking), anchored to the whole answer, and answers longer than MAX_PATTERN_INPUT_CHARS
 * are refused before matching. RE2 has no backreferences or lookaround: `quench validate`
 * reports a pattern that needs them, at its file:line:col.
 */
export const MAX_PATTERN_INPUT_CHARS = 1000;
export const MAX_PATTERN_CHARS = 500;

const cache = new Map<string, RE2JS>();

/** Why the pattern cannot be used, or undefined when it can. */
export function patternProblem(pattern: string): string | undefined {
  if (pattern.length > MAX_PATTERN_CHARS) return `pattern is ${pattern.length} characters long; the limit is ${MAX_PATTERN_CHARS}`;
  try {
    compiled(pattern);
    return undefined;
  } catch (err) {
    return `pattern is not valid RE2 syntax (no backreferences or lookaround; patterns run without backtracking): ${(err as Error).message}`;
  }
}

/** Whether the whole answer matches; throws when it is longer than the bound or the pattern is invalid. */
export function matchesPattern(pattern: string, answer: string): boolean {
  if (answer.length > MAX_PATTERN_INPUT_CHARS) {
    throw new RangeError(`the answer is ${answer.length} characters long; answers checked against a pattern may have at most ${MAX_PATTERN_INPUT_CHARS}`);
  }
  return compiled(pattern).matches(answer);
}

/**
 * Whole-text match with no length bound, for trigger `labelsMatch` (RE2, as Prometheus label
 * matchers are): label values come from webhook senders, and RE2 stays linear in their length.
 */
export function matchesWhole(pattern: string, text: string): boolean {
  return compiled(pattern).matches(text);
}

function compiled(pattern: string): RE2JS {
  let re = cache.get(pattern);
  if (!re) {
    re = RE2JS.compile(`^(?:${pattern})$`);
    if (cache.size >= 500) cache.delete(cache.keys().next().value as string);
    cache.set(pattern, re);
  }
  return re;
}

/** Why an answer is refused by the pattern (too long, no match), or undefined when it matches. */
export function answerRefusal(pattern: string, answer: string): string | undefined {
  try {
    return matchesPattern(pattern, answer) ? undefined : `the answer does not match the pattern ${pattern}`;
  } catch (err) {
    return (err as Error).message;
  }
}
