/**
 * The runtime budget of CEL evaluation. The parse-time limits (expression length, AST nodes,
 * comprehension nesting) bound the expression, not the data: two nested comprehensions over a
 * payload list of n items cost n², and a 48 KB event held the event loop for 25 s. So every
 * evaluation also runs under a cost meter, in the manner of cel-go's cost tracking: each
 * evaluated node costs 1, plus the size of what it produced (a list's length, a string's
 * length / 32), so copying, concatenating and iterating big values is paid for. An overrun
 * stops the evaluation with `expression_budget_exceeded`. One render of a step's parameters
 * shares one budget, so the sync work a step does between two awaits stays bounded.
 *
 * And values larger than the caps below never reach an expression: such a list, map or
 * string is replaced by a guard that fails the expression reading it
 * (`expression_input_too_large`), while expressions that ignore it are unaffected.
 */

/**
 * About 10 ms of CPU (a nested `exists` over 1,000 items stops after ~11 ms; 100,000 took
 * 22–56 ms), well inside the 100 ms /healthz promise; ordinary conditions cost tens to a few
 * thousand units.
 */
export const MAX_EVALUATION_COST = 50_000;
export const MAX_LIST_ITEMS = 1000;
export const MAX_MAP_ENTRIES = 1000;
export const MAX_STRING_CHARS = 64 * 1024;

export interface Meter {
  spent: number;
  readonly limit: number;
}

let current: Meter | undefined;

/** The meter of the evaluation running now, if any. */
export function activeMeter(): Meter | undefined {
  return current;
}

/**
 * Runs `fn` under a meter: the one already running (a render sharing its budget across
 * templates), or a fresh one of `limit`.
 */
export function metered<T>(fn: () => T, limit = MAX_EVALUATION_COST): T {
  if (current) return fn();
  current = { spent: 0, limit };
  try {
    return fn();
  } finally {
    current = undefined;
  }
}

/** What producing this value costs, on top of the node that produced it. */
export function sizeCost(value: unknown): number {
  if (typeof value === 'string') return value.length >> 5;
  if (Array.isArray(value)) return value.length;
  return 0;
}
