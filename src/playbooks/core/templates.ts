import { metered } from './budget.js';
import { compileExpression, type ExpressionContext, ExpressionError, type Reference } from './expressions.js';

/**
 * Templates: `${{ expr }}` inside strings of step parameters, prompts and descriptions. A
 * string that is exactly one template (surrounding blanks aside) yields the expression's typed
 * value (a number stays a number, a map a map); otherwise each template is rendered as text
 * and interpolated. `$${{` is a literal `${{`. CEL types JSON lacks take the text CEL's
 * `string()` gives them in both forms (a duration `"5400s"`, bytes their UTF-8 text; see
 * fromCel), and a timestamp is interpolated as RFC 3339.
 */

export type TemplatePart = { text: string } | { expr: string; offset: number };

const OPEN = '${{';
const CLOSE = '}}';

/** Splits a string into text and expressions; `offset` is where the expression starts in `text`. */
export function parseTemplate(text: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf(OPEN, i);
    if (open < 0) break;
    if (open > 0 && text[open - 1] === '$') {
      literal += text.slice(i, open - 1) + OPEN;
      i = open + OPEN.length;
      continue;
    }
    literal += text.slice(i, open);
    const start = open + OPEN.length;
    const close = findClose(text, start);
    if (close < 0) throw new ExpressionError('syntax', `unterminated template: '${OPEN}' without '${CLOSE}'`, open);
    if (literal !== '') parts.push({ text: literal });
    literal = '';
    const raw = text.slice(start, close);
    const lead = raw.length - raw.trimStart().length;
    parts.push({ expr: raw.trim(), offset: start + lead });
    i = close + CLOSE.length;
  }
  literal += text.slice(i);
  if (literal !== '') parts.push({ text: literal });
  return parts;
}

/**
 * The `}}` that ends a template: outside CEL string literals and map literals, both of which may
 * contain `}}` (`{"a": {"b": 1}}`).
 */
function findClose(text: string, from: number): number {
  let quote: string | null = null;
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '{') depth++;
    else if (c === '}' && depth > 0) depth--;
    else if (c === '}' && text[i + 1] === '}') return i;
  }
  return -1;
}

export function hasTemplate(text: string): boolean {
  return text.includes(OPEN);
}

/** Whether the whole string is one template, so its value keeps its type. */
export function isWholeTemplate(text: string): boolean {
  if (!hasTemplate(text)) return false;
  try {
    const parts = parseTemplate(text.trim());
    return parts.length === 1 && 'expr' in parts[0]!;
  } catch {
    return false;
  }
}

/** Every template in a string, compiled; throws ExpressionError with the offset in `text`. */
export function checkTemplate(text: string): { stepRefs: string[]; refs: Reference[] } {
  const refs = new Map<string, Reference>();
  for (const part of parseTemplate(text)) {
    if (!('expr' in part)) continue;
    if (part.expr === '') throw new ExpressionError('syntax', 'empty template', part.offset);
    try {
      for (const ref of compileExpression(part.expr).refs) refs.set(`${ref.variable}.${ref.name}`, ref);
    } catch (err) {
      const e = err as ExpressionError;
      throw new ExpressionError(e.kind, e.message, part.offset + e.offset);
    }
  }
  const all = [...refs.values()];
  return { stepRefs: all.filter((r) => r.variable === 'steps').map((r) => r.name), refs: all };
}

export function renderTemplate(text: string, context: ExpressionContext): unknown {
  if (!hasTemplate(text)) return text;
  const parts = parseTemplate(text.trim());
  if (parts.length === 1 && 'expr' in parts[0]!) return compileExpression(parts[0].expr).evaluate(context);
  return parseTemplate(text)
    .map((part) => ('expr' in part ? asText(compileExpression(part.expr).evaluate(context)) : part.text))
    .join('');
}

/** Renders every string inside a value (params: maps and lists of any depth), under one cost budget. */
export function renderValue(value: unknown, context: ExpressionContext): unknown {
  return metered(() => renderEach(value, context));
}

function renderEach(value: unknown, context: ExpressionContext): unknown {
  if (typeof value === 'string') return renderTemplate(value, context);
  if (Array.isArray(value)) return value.map((v) => renderEach(v, context));
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderEach(v, context)]));
  }
  return value;
}

/** Every string holding a template inside a value, with its path (for validation). */
export function templatesIn(value: unknown, path: PropertyKey[] = []): { path: PropertyKey[]; text: string }[] {
  if (typeof value === 'string') return hasTemplate(value) ? [{ path, text: value }] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => templatesIn(v, [...path, i]));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => templatesIn(v, [...path, k]));
  return [];
}

function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
