import { type ASTNode, Environment, EvaluationError, Optional, ParseError } from '@marcbachmann/cel-js';
import { RE2JS } from 're2js';
import { activeMeter, MAX_LIST_ITEMS, MAX_MAP_ENTRIES, MAX_STRING_CHARS, metered, sizeCost } from './budget.js';

/**
 * Conditions (`when`, decide branches, wait matches) and templates are CEL, the Common
 * Expression Language, evaluated by @marcbachmann/cel-js: no eval, no prototype access (only
 * own properties are visible), and non-Turing-complete. Cost is bounded here by the source
 * length, the library's structural limits (AST nodes, depth, literal sizes) and a cap on nested
 * comprehensions (`map`/`filter`/`all`/`exists`), the only construct whose cost grows with
 * the data: two levels over a list of n items cost n², three would be n³. At run time every
 * evaluation has a cost budget and oversized inputs are fenced off (./budget.ts), and
 * `matches` runs on RE2 (re2js: linear time, no backtracking), as the CEL specification says.
 *
 * Every expression sees five variables: `trigger` (the TriggerEvent that started the run),
 * `inputs`, `steps` (`steps.<id>.output`, `.status`), `env` (allowlisted variables) and `run`
 * (`id`, `correlationId`, `playbook`). Wait conditions also see `event`.
 */

export const MAX_EXPRESSION_LENGTH = 1000;
export const MAX_COMPREHENSION_NESTING = 2;
export const CONTEXT_VARIABLES = ['trigger', 'inputs', 'steps', 'env', 'run', 'event'] as const;
const COMPREHENSIONS = new Set(['map', 'filter', 'all', 'exists', 'exists_one']);

/** How every CEL environment of Quench reads a source: this one, and validation's typed one (step-checks.ts). */
export const CEL_OPTIONS = {
  // Step outputs and payloads are JSON: mixed lists and maps are normal there.
  homogeneousAggregateLiterals: false,
  // `.?key` and `orValue()` let authors read optional payload fields without has() chains.
  enableOptionalTypes: true,
  limits: { maxAstNodes: 400, maxDepth: 32, maxListElements: 100, maxMapEntries: 100, maxCallArguments: 16 },
} as const;

const environment = new Environment(CEL_OPTIONS);
for (const name of CONTEXT_VARIABLES) environment.registerVariable(name, 'map');

interface EvalNode {
  op: string;
  args: unknown;
  receiverWithArgs?: EvalNode[];
  evaluate(ev: Evaluator, node: EvalNode, ctx: unknown): unknown;
}
interface Evaluator {
  run(node: EvalNode, ctx: unknown): unknown;
}

/**
 * Meters the library's evaluator: every child node is evaluated through `run`, including each
 * comprehension step. The evaluator is private to the environment, so a probe expression
 * hands it over once. (Pinned to @marcbachmann/cel-js 8; test/unit/playbooks/budget.test.ts
 * fails if a later version stops routing node evaluation through `run`.)
 */
function meterEvaluator(): void {
  const probe = environment.parse('true');
  const root = probe.ast as unknown as EvalNode;
  const evaluateRoot = root.evaluate;
  let evaluator: Evaluator | undefined;
  root.evaluate = function probeEvaluate(this: EvalNode, ev, node, ctx) {
    evaluator = ev;
    return evaluateRoot.call(this, ev, node, ctx);
  };
  probe({});
  if (!evaluator) throw new Error('cel-js evaluator not reachable: the expression budget cannot be enforced');
  evaluator.run = function run(this: Evaluator, node, ctx) {
    const meter = activeMeter();
    if (meter && ++meter.spent > meter.limit) throw budgetExceeded(meter.limit);
    const value = node.evaluate(this, node, ctx);
    if (meter) meter.spent += sizeCost(value);
    return value;
  };
}
meterEvaluator();

function budgetExceeded(limit: number): ExpressionError {
  return new ExpressionError(
    'budget',
    `expression evaluation exceeded its cost budget (${limit}): it iterates too much data; filter or bound the lists it reads (e.g. nested comprehensions over a large payload)`,
  );
}

// RE2 semantics for `matches`, as the CEL specification has it; compiled patterns are reused.
const regexCache = new Map<string, RE2JS>();
function re2Matches(text: unknown, pattern: unknown): boolean {
  if (typeof text !== 'string' || typeof pattern !== 'string') {
    throw new ExpressionError('evaluation', 'matches() takes a string and a string pattern');
  }
  let re = regexCache.get(pattern);
  if (!re) {
    try {
      re = RE2JS.compile(pattern);
    } catch (err) {
      throw new ExpressionError('evaluation', `matches(): invalid RE2 pattern '${pattern}': ${(err as Error).message}`);
    }
    if (regexCache.size >= 200) regexCache.delete(regexCache.keys().next().value as string);
    regexCache.set(pattern, re);
  }
  return re.matcher(text).find();
}

/** Points every `matches` call of a checked AST at RE2 instead of the library's JS RegExp. */
function useRe2(root: unknown): void {
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== 'object' || !('op' in node)) return;
    const n = node as EvalNode;
    const args = n.args as unknown[];
    if ((n.op === 'rcall' || n.op === 'call') && Array.isArray(args) && args[0] === 'matches') {
      const operands = n.op === 'rcall' ? [args[1], ...(args[2] as unknown[])] : (args[1] as unknown[]);
      if (operands.length === 2) {
        n.evaluate = (ev, _node, ctx) => re2Matches(ev.run(operands[0] as EvalNode, ctx), ev.run(operands[1] as EvalNode, ctx));
      }
    }
    visit(n.args);
  };
  visit(root);
}

/** A problem in an expression; `offset` is the character index in the expression source. */
export class ExpressionError extends Error {
  readonly offset: number;
  /** `budget`: the evaluation ran out of cost; `input`: it read a value over the size caps. */
  readonly kind: 'syntax' | 'type' | 'limit' | 'evaluation' | 'budget' | 'input';
  constructor(kind: ExpressionError['kind'], message: string, offset = 0) {
    super(message);
    this.name = 'ExpressionError';
    this.kind = kind;
    this.offset = offset;
  }

  /** The stable code a failed step records. */
  get code(): string {
    return EXPRESSION_ERROR_CODES[this.kind];
  }
}

const EXPRESSION_ERROR_CODES: Record<ExpressionError['kind'], string> = {
  syntax: 'expression_syntax',
  type: 'expression_type',
  limit: 'expression_limit',
  evaluation: 'expression_error',
  budget: 'expression_budget_exceeded',
  input: 'expression_input_too_large',
};

export interface CompiledExpression {
  source: string;
  /** Step ids read as `steps.<id>` or `steps["id"]`, for reference checks. */
  stepRefs: string[];
  /** Every `steps.<id>`, `inputs.<name>` and `env.<NAME>` read, for reference checks. */
  refs: Reference[];
  evaluate(context: ExpressionContext): unknown;
}

export interface Reference {
  variable: 'steps' | 'inputs' | 'env';
  name: string;
}

export type ExpressionContext = Partial<Record<(typeof CONTEXT_VARIABLES)[number], unknown>>;

// Compiling is far costlier than evaluating; playbooks reuse a few hundred expressions at most.
const cache = new Map<string, CompiledExpression>();
const CACHE_LIMIT = 2000;

/** Parses and type-checks; throws ExpressionError with the offset of the problem. */
export function compileExpression(source: string): CompiledExpression {
  const hit = cache.get(source);
  if (hit) return hit;
  if (source.length > MAX_EXPRESSION_LENGTH) {
    throw new ExpressionError('limit', `expression is ${source.length} characters long; the limit is ${MAX_EXPRESSION_LENGTH}`);
  }
  if (source.trim() === '') throw new ExpressionError('syntax', 'empty expression');
  let parsed: ReturnType<Environment['parse']>;
  try {
    parsed = environment.parse(source);
  } catch (err) {
    throw fromCelError(err, 'syntax');
  }
  const checked = parsed.check();
  if (!checked.valid) throw fromCelError(checked.error, 'type');
  const { nesting, at, refs } = inspect(parsed.ast);
  const stepRefs = refs.filter((r) => r.variable === 'steps').map((r) => r.name);
  if (nesting > MAX_COMPREHENSION_NESTING) {
    throw new ExpressionError('limit', `comprehensions nested ${nesting} deep; at most ${MAX_COMPREHENSION_NESTING} are allowed`, at);
  }
  useRe2(parsed.ast);
  const compiled: CompiledExpression = {
    source,
    stepRefs,
    refs,
    evaluate(context) {
      try {
        return metered(() => fromCel(parsed(toCelContext(context))));
      } catch (err) {
        throw fromCelError(err, 'evaluation');
      }
    },
  };
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(source, compiled);
  return compiled;
}

/** Evaluates an expression that must yield a boolean (conditions). */
export function evaluateCondition(source: string, context: ExpressionContext): boolean {
  const value = compileExpression(source).evaluate(context);
  if (typeof value !== 'boolean') {
    throw new ExpressionError('evaluation', `condition '${source}' yielded ${describe(value)}, expected true or false`);
  }
  return value;
}

function fromCelError(err: unknown, fallback: ExpressionError['kind']): ExpressionError {
  if (err instanceof ExpressionError) return err;
  const e = err as { summary?: string; message?: string; code?: string; range?: { start: number } };
  const kind =
    err instanceof ParseError
      ? e.code === 'limit_exceeded'
        ? 'limit'
        : 'syntax'
      : err instanceof EvaluationError
        ? 'evaluation'
        : fallback;
  return new ExpressionError(kind, e.summary ?? String(e.message ?? err), e.range?.start ?? 0);
}

const REFERENCED = new Set(['steps', 'inputs', 'env']);

/** Walks the AST once: comprehension nesting and `steps.<id>`, `inputs.<name>`, `env.<NAME>` references. */
function inspect(root: ASTNode): { nesting: number; at: number; refs: Reference[] } {
  const refs = new Map<string, Reference>();
  let deepest = 0;
  let at = 0;
  const visit = (node: unknown, depth: number): void => {
    if (Array.isArray(node)) {
      for (const child of node) visit(child, depth);
      return;
    }
    if (!node || typeof node !== 'object' || !('op' in node)) return;
    const n = node as { op: string; args: unknown; start: number };
    let d = depth;
    if (n.op === 'rcall' && Array.isArray(n.args) && COMPREHENSIONS.has(n.args[0] as string)) {
      d += 1;
      if (d > deepest) [deepest, at] = [d, n.start];
    }
    if ((n.op === '.' || n.op === '.?' || n.op === '[]' || n.op === '[?]') && Array.isArray(n.args)) {
      const [target, key] = n.args as [{ op?: string; args?: unknown }, unknown];
      const name =
        typeof key === 'string'
          ? key
          : (key as { op?: string; args?: unknown })?.op === 'value'
            ? (key as { args: unknown }).args
            : undefined;
      if (target?.op === 'id' && REFERENCED.has(target.args as string) && typeof name === 'string') {
        refs.set(`${target.args}.${name}`, { variable: target.args as Reference['variable'], name });
      }
    }
    visit(n.args, d);
  };
  visit(root, 0);
  return { nesting: deepest, at, refs: [...refs.values()] };
}

/**
 * CEL integers are BigInt; JSON numbers are not. Whole numbers become CEL ints so that
 * `inputs.replicas + 1` works, other numbers stay doubles; `undefined` fields are dropped so
 * `has()` sees them as absent. Lists, maps and strings over the caps become guards that fail
 * whatever expression reads them (./budget.ts).
 *
 * JSON objects become JS `Map`s, not plain objects: cel-js types an object by its
 * `constructor` property, so a payload key named `constructor` made every read of the map
 * fail, and assigning a `__proto__` key set the prototype instead of adding a key. A Map holds
 * any key as data and has nothing inherited to read, so only the own fields of the payload are
 * visible, whatever they are called.
 */
export function toCel(value: unknown, path = 'value'): unknown {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) : value;
  if (typeof value === 'string') {
    return value.length > MAX_STRING_CHARS ? tooLarge(path, `a string of ${value.length} characters`, `${MAX_STRING_CHARS}`) : value;
  }
  if (Array.isArray(value)) {
    if (value.length > MAX_LIST_ITEMS) return tooLarge(path, `a list of ${value.length} items`, `${MAX_LIST_ITEMS} items`);
    return value.map((v, i) => toCel(v, `${path}[${i}]`));
  }
  if (value && typeof value === 'object' && !(value instanceof Date) && !(value instanceof Uint8Array)) {
    const entries = Object.entries(value);
    if (entries.length > MAX_MAP_ENTRIES) return tooLarge(path, `a map of ${entries.length} entries`, `${MAX_MAP_ENTRIES} entries`);
    const out = new Map<string, unknown>();
    for (const [k, v] of entries) if (v !== undefined) out.set(k, toCel(v, `${path}.${k}`));
    return out;
  }
  return value;
}

/** A stand-in that throws on any use: the expression that touches it fails, the others run. */
function tooLarge(path: string, what: string, cap: string): unknown {
  const fail = (): never => {
    throw new ExpressionError('input', `${path} is ${what}; expressions may read at most ${cap} (filter the payload before it reaches the playbook)`);
  };
  return new Proxy([], { get: fail, has: fail, ownKeys: fail, getOwnPropertyDescriptor: fail, getPrototypeOf: fail });
}

// Converting a context costs as much as its payload; conditions and templates of one step
// share the same objects, so each is converted once.
const converted = new WeakMap<object, unknown>();

function toCelContext(context: ExpressionContext): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of CONTEXT_VARIABLES) {
    const raw = context[name] ?? {};
    if (raw === null || typeof raw !== 'object') {
      out[name] = toCel(raw, name);
      continue;
    }
    let value = converted.get(raw);
    if (value === undefined) converted.set(raw, (value = toCel(raw, name)));
    out[name] = value;
  }
  return out;
}

// cel-js does not export its Duration, uint and type classes; one value of each names them.
const probeValue = (source: string): object => environment.parse(source)({}) as object;
const CelDuration = probeValue('duration("0s")').constructor;
const CelUint = probeValue('uint(0)').constructor;
const CelType = probeValue('type(0)').constructor;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Back to JSON-friendly values: BigInt to number (or a string when it would lose precision),
 * maps to plain objects. Durations and bytes become the text CEL's `string()` gives them
 * (`"5400s"`, the UTF-8 text), since JSON has no such types and their object form
 * serialises to `{}` or a map of byte indexes. Timestamps stay Dates for the caller to format.
 */
export function fromCel(value: unknown): unknown {
  if (typeof value === 'bigint') return fromCelInt(value);
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  if (Array.isArray(value)) return value.map(fromCel);
  // Object.fromEntries defines own properties: a `__proto__` key stays data, as in JSON.parse.
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), fromCel(v)]));
  if (value instanceof Uint8Array) return bytesToText(value);
  if (value instanceof Optional) return value.hasValue() ? fromCel(value.value()) : null;
  const proto = Object.getPrototypeOf(value) as object | null;
  if (proto === Object.prototype || proto === null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromCel(v)]));
  }
  if (value.constructor === CelDuration) return String(value);
  if (value.constructor === CelUint) return fromCelInt((value as { value: bigint }).value);
  if (value.constructor === CelType) return (value as { name: string }).name;
  const name = (value.constructor as { name?: string } | undefined)?.name ?? 'non-JSON';
  throw new ExpressionError('evaluation', `the expression yielded a ${name} value, which has no JSON form: convert it with string() or int()`);
}

function fromCelInt(value: bigint): number | string {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
}

function bytesToText(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new ExpressionError(
      'evaluation',
      `the expression yielded ${bytes.length} bytes that are not valid UTF-8 text; render them with .hex() or .base64()`,
    );
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'a map' : `${typeof value} ${JSON.stringify(value)}`;
}
