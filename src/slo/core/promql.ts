import { formatDuration } from './duration.js';
import type { Budgeting, ComparisonOp, Sli } from './model.js';
import { badSliceAbove, sliceRangeMs } from './slices.js';

/**
 * PromQL for an SLI over a window. Templates may write the range as `{{window}}` or Sloth's
 * `{{.window}}`. Every SLI becomes two expressions per window, errors and total, so that the
 * ratio, the budget and the low-traffic guard are all computed the same way; raw-ratio SLIs
 * give the ratio itself.
 */
const WINDOW = /\{\{\s*\.?window\s*\}\}/g;

export function hasWindowTemplate(query: string): boolean {
  return new RegExp(WINDOW.source).test(query);
}

export function renderWindow(query: string, range: string): string {
  return query.replace(WINDOW, range);
}

/** A PromQL range: `5m`, `30d`, or whole seconds for odd lengths (calendar windows so far). */
export function promRange(ms: number): string {
  return formatDuration(Math.max(1000, Math.round(ms / 1000) * 1000));
}

export { tidy } from './numbers.js';

const opSymbol: Record<ComparisonOp, string> = { lt: '<', lte: '<=', gt: '>', gte: '>=' };

/** A bare selector (`metric{a="b"}`) can take a range directly; anything else needs a subquery. */
const SELECTOR = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^{}]*\})?$/;

/**
 * A query without its PromQL comments (`#` to the end of a line, outside quoted strings).
 * Quench wraps users' queries (`increase((…)[1h:])`): a comment on the last line of a query
 * would swallow the closing parentheses, and a `rate(x[5m])` in a comment is no range.
 */
export function withoutComments(query: string): string {
  let out = '';
  let quote = '';
  for (let i = 0; i < query.length; i++) {
    const c = query[i]!;
    if (quote) {
      out += c;
      if (c === '\\' && quote !== '`') out += query[++i] ?? '';
      else if (c === quote) quote = '';
    } else if (c === '#') {
      while (i + 1 < query.length && query[i + 1] !== '\n') i++;
    } else {
      if (c === '"' || c === "'" || c === '`') quote = c;
      out += c;
    }
  }
  return out.trim();
}

/** A range or subquery written into a query (`[5m]`, `[1h30m:1m]`); quoted strings are removed first. */
const OWN_RANGE = /\[\s*(?:\d+(?:ms|s|m|h|d|w|y))+\s*(?::[^\]]*)?\]/;
const QUOTED = /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g;

/**
 * Whether a query without `{{window}}` reads over a range of its own, as most OpenSLO files
 * write it (`sum(rate(x[5m]))`). Its values are rates or increases, which go down as well as
 * up: it is never a counter, whatever `counter` says (increase() over it took every dip for a
 * counter reset, and read steady traffic as no data).
 */
export function readsOwnRange(query: string): boolean {
  const q = withoutComments(query);
  return !hasWindowTemplate(q) && OWN_RANGE.test(q.replace(QUOTED, '""'));
}

/**
 * A query written without `{{window}}` (OpenSLO files usually are): a counter becomes its
 * increase over the window, a gauge (or a query reading its own range) its average.
 */
function overWindow(query: string, range: string, counter: boolean): string {
  const q = withoutComments(query);
  if (hasWindowTemplate(q)) return renderWindow(q, range);
  const increase = counter && !readsOwnRange(q);
  if (SELECTOR.test(q)) return increase ? `sum(increase(${q}[${range}]))` : `avg(avg_over_time(${q}[${range}]))`;
  return increase ? `increase((${q})[${range}:])` : `avg_over_time((${q})[${range}:])`;
}

/**
 * Whether a query's values are per-second rates, whose event count is value × seconds: a
 * templated rate, or a rate over its own range (averaged over the window, still per second).
 */
export function isPerSecond(query: string): boolean {
  const q = withoutComments(query);
  return (hasWindowTemplate(q) || readsOwnRange(q)) && /\b(i?rate)\s*\(/.test(q);
}

/**
 * The parts of one window, each a PromQL expression:
 * - `errors`: error events (occurrences), bad slices (timeslices) or the sum of the slices'
 *   error ratios (ratioTimeslices). Absent with data present means 0.
 * - `total`: events (occurrences) or the slices the window is divided into (time slices, with
 *   or without data: an empty slice is a good one, as OpenSLO divides the whole window).
 * - `slices`: slices with data; none means no data (time slices only).
 * - `requests`: the request volume the low-traffic guard reads (event SLIs with time slices;
 *   for occurrences it is `total`).
 * - `ratio`: the error ratio itself (raw SLIs with occurrences).
 */
export type Part = 'errors' | 'total' | 'slices' | 'requests' | 'ratio';

export interface WindowExpressions {
  parts: Partial<Record<Part, string>>;
  /** Event parts (`errors`/`total` for occurrences, `requests`) are per-second rates: × seconds gives events. */
  perSecond: boolean;
}

export interface SliQueryOptions {
  /** OpenSLO `ratioMetric.counter` (default true): queries without `{{window}}` are counters. */
  counter?: boolean;
}

/**
 * A subquery range over a window: one millisecond short, so that its grid holds exactly the
 * slices ending in (now − window, now] — Prometheus 2 includes both ends of a range, Prometheus
 * 3 only the end; this reads the same on both.
 */
export function subqueryRange(windowMs: number): string {
  return formatDuration(Math.max(1, Math.round(windowMs) - 1));
}

function eventParts(sli: Extract<Sli, { kind: 'events' }>, range: string, counter: boolean) {
  const total = `sum(${overWindow(sli.totalQuery, range, counter)})`;
  const errors = sli.errorQuery
    ? // No error series yet (no 5xx since the target started) with traffic present is 0 errors.
      `(sum(${overWindow(sli.errorQuery, range, counter)}) or (${total} * 0))`
    : // No good series at all means every request failed: count good as 0 rather than no data.
      `(${total} - (sum(${overWindow(sli.goodQuery!, range, counter)}) or vector(0)))`;
  return { errors, total };
}

/** The per-slice error ratio, for the time-slice methods; absent (never NaN) for a slice without traffic. */
function sliceRatio(sli: Sli, slice: string, counter: boolean): string | undefined {
  if (sli.kind === 'events') {
    const { errors, total } = eventParts(sli, slice, counter);
    return `(${errors} / (${total} > 0))`;
  }
  if (sli.kind === 'raw') return `avg(${overWindow(sli.errorRatioQuery, slice, false)})`;
  return undefined;
}

export function windowExpressions(sli: Sli, budgeting: Budgeting, windowMs: number, options: SliQueryOptions = {}): WindowExpressions {
  const range = promRange(windowMs);
  const sub = subqueryRange(windowMs);
  const counter = options.counter ?? (sli.kind === 'events' ? (sli.counter ?? true) : true);
  if (sli.kind === 'synthetic' || sli.kind === 'unevaluable') return { parts: {}, perSecond: false };
  if (sli.kind === 'threshold') {
    const q = `avg(${withoutComments(sli.query)})`;
    const good = (step: string) => `sum_over_time((${q} ${opSymbol[sli.op]} bool ${sli.value})[${sub}:${step}])`;
    if (budgeting.method === 'occurrences') {
      // Each sample (one a minute) is an event: good when it meets the threshold.
      const total = `count_over_time(${q}[${sub}:1m])`;
      return { parts: { errors: `(${total} - ${good('1m')})`, total }, perSecond: false };
    }
    // Each slice is good when its sample meets the threshold; a slice without a sample is good.
    const step = promRange(budgeting.sliceMs);
    const slices = `count_over_time(${q}[${sub}:${step}])`;
    return {
      parts: { errors: `(${slices} - ${good(step)})`, total: `count_over_time(vector(1)[${sub}:${step}])`, slices },
      perSecond: false,
    };
  }
  if (budgeting.method === 'occurrences') {
    if (sli.kind === 'raw') return { parts: { ratio: `avg(${overWindow(sli.errorRatioQuery, range, false)})` }, perSecond: false };
    return { parts: eventParts(sli, range, counter), perSecond: isPerSecond(sli.totalQuery) };
  }
  const slice = promRange(budgeting.sliceMs);
  const ratio = sliceRatio(sli, promRange(sliceRangeMs(budgeting)), counter)!;
  const parts: Partial<Record<Part, string>> = {
    total: `count_over_time(vector(1)[${sub}:${slice}])`,
    slices: `count_over_time(${ratio}[${sub}:${slice}])`,
    errors:
      budgeting.method === 'ratioTimeslices'
        ? `sum_over_time(${ratio}[${sub}:${slice}])`
        : // A slice is bad when its good ratio misses the slice target, i.e. its error ratio exceeds 1 − target.
          `sum_over_time((${ratio} > bool ${badSliceAbove(budgeting.sliceTarget)})[${sub}:${slice}])`,
  };
  if (sli.kind === 'events') parts.requests = eventParts(sli, range, counter).total;
  return { parts, perSecond: sli.kind === 'events' && isPerSecond(sli.totalQuery) };
}

/**
 * One query for every window of an SLO: each part is tagged with a `quench` label
 * (`5m:errors`), so a single round trip returns everything the evaluation needs. Part queries
 * that return nothing (no 5xx series yet) simply leave their tag out.
 */
export function combinedQuery(sli: Sli, budgeting: Budgeting, windowsMs: readonly number[], options: SliQueryOptions = {}): string {
  const pieces: string[] = [];
  for (const ms of windowsMs) {
    const { parts } = windowExpressions(sli, budgeting, ms, options);
    for (const [part, expr] of Object.entries(parts)) {
      pieces.push(`label_replace(${expr}, "quench", "${promRange(ms)}:${part}", "", "")`);
    }
  }
  return pieces.join(' or ');
}

export type MatchOp = '=' | '!=' | '=~' | '!~';

/** One label matcher; `value` is the quoted string as written (quotes and escapes kept). */
export interface LabelMatcher {
  name: string;
  op: MatchOp;
  value: string;
}

const LABEL_NAME = /[a-zA-Z_][a-zA-Z0-9_]*/y;
const MATCH_OP = /=~|!~|!=|=/y;
/** What may follow a backslash in a quoted PromQL string (its lexer's lexEscape). */
const ESCAPE = /^(?:[0-7]{3}|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)/s;

/**
 * A list of label matchers as PromQL writes them inside braces: `job="x", code!~"5.."`, with
 * one pair of outer braces allowed (`{job="x"}`) and a trailing comma, as PromQL allows. Values
 * are quoted as in PromQL: "…" or '…' with backslash escapes, or `…` raw. The error says where
 * (1-based character) and what was expected, so that a file's problem can point at it.
 */
export function parseLabelMatchers(text: string): { matchers: LabelMatcher[] } | { error: string } {
  let s = text.trim();
  if (s.startsWith('{') && s.endsWith('}')) s = s.slice(1, -1);
  const offset = text.indexOf(s);
  const matchers: LabelMatcher[] = [];
  let i = 0;
  const skip = () => {
    while (i < s.length && /\s/.test(s[i]!)) i++;
  };
  const fail = (expected: string) => {
    const found = i < s.length ? `'${s.slice(i, i + 12)}'` : 'the end';
    return { error: `at character ${offset + i + 1}: expected ${expected}, found ${found}` };
  };
  const token = (re: RegExp) => {
    re.lastIndex = i;
    const m = re.exec(s);
    if (m) i = re.lastIndex;
    return m?.[0];
  };
  skip();
  while (i < s.length) {
    const name = token(LABEL_NAME);
    if (name === undefined) return fail('a label name (letters, digits and _, not starting with a digit)');
    skip();
    const op = token(MATCH_OP) as MatchOp | undefined;
    if (op === undefined) return fail('one of =, !=, =~, !~');
    skip();
    const start = i;
    const quote = s[i];
    if (quote !== '"' && quote !== "'" && quote !== '`') return fail('a quoted value ("…", \'…\' or `…`)');
    for (i++; i < s.length && s[i] !== quote; i++) {
      if (quote === '`') continue;
      if (s[i] === '\n') break;
      if (s[i] === '\\') {
        const escape = ESCAPE.exec(s.slice(i + 1, i + 10))?.[0];
        if (escape === undefined || (escape.length === 1 && escape !== quote && !'abfnrtv\\'.includes(escape))) {
          return fail('a PromQL escape (\\\\, \\n, \\t, \\" …; a regex\'s \\d is written \\\\d)');
        }
        i += escape.length;
      }
    }
    if (s[i] !== quote) {
      i = start;
      return fail(`a closing ${quote} for the value starting here`);
    }
    i++;
    matchers.push({ name, op, value: s.slice(start, i) });
    skip();
    if (i >= s.length) break;
    if (s[i] !== ',') return fail('"," between matchers');
    i++;
    skip();
  }
  return { matchers };
}

export function renderLabelMatchers(matchers: readonly LabelMatcher[]): string {
  return matchers.map((m) => `${m.name}${m.op}${m.value}`).join(',');
}
