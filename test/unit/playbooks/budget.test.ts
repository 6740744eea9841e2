import { describe, expect, it } from 'vitest';
import { MAX_EVALUATION_COST, MAX_LIST_ITEMS, MAX_STRING_CHARS } from '../../../src/playbooks/core/budget.js';
import { compileExpression, evaluateCondition, ExpressionError } from '../../../src/playbooks/core/expressions.js';
import { renderValue } from '../../../src/playbooks/core/templates.js';
import { toStepFailure } from '../../../src/engine/core/step-error.js';
import { matchingEvent } from '../../../src/engine/events.js';

/**
 * Issue 9 §3: CEL had no runtime budget. A nested `exists` over a payload list costs n²
 * (a 48 KB event held the event loop for 25.6 s); now every evaluation is metered and
 * oversized inputs are fenced off. Costs, not times, are asserted.
 */
function failure(fn: () => unknown): { code: string; kind: string; message: string } | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    const e = err as ExpressionError;
    return { code: e.code, kind: e.kind, message: e.message };
  }
}

const nested = 'trigger.payload.items.exists(x, trigger.payload.items.exists(y, x == y + 1000000))';

describe('expression budget', () => {
  it('a nested comprehension over a payload list at the cap exceeds the cost budget', () => {
    const items = Array.from({ length: MAX_LIST_ITEMS }, (_, i) => i);
    const result = failure(() => evaluateCondition(nested, { trigger: { payload: { items } } }));
    expect(result).toMatchObject({ code: 'expression_budget_exceeded', kind: 'budget' });
    expect(result!.message).toMatch(/cost budget/);
    // The engine records it with its code, not as a generic retryable error.
    try {
      evaluateCondition(nested, { trigger: { payload: { items } } });
    } catch (err) {
      expect(toStepFailure(err)).toMatchObject({ code: 'expression_budget_exceeded', retryable: false });
    }
  });

  it('the same expression over a small list evaluates normally', () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    expect(evaluateCondition(nested, { trigger: { payload: { items } } })).toBe(false);
    expect(evaluateCondition('trigger.payload.items.exists(x, trigger.payload.items.exists(y, x == y + 49))', { trigger: { payload: { items } } })).toBe(
      true,
    );
  });

  it('a list over the cap fails only the expressions that read it', () => {
    const items = Array.from({ length: 24_000 }, () => 1);
    const context = { trigger: { payload: { items, service: 'checkout' } } };
    expect(failure(() => evaluateCondition(nested, context))).toMatchObject({
      code: 'expression_input_too_large',
      message: expect.stringMatching(/trigger\.payload\.items is a list of 24000 items/),
    });
    expect(failure(() => evaluateCondition('size(trigger.payload.items) > 0', context))).toMatchObject({ code: 'expression_input_too_large' });
    expect(evaluateCondition('trigger.payload.service == "checkout"', context)).toBe(true);
  });

  it('a string over the cap is fenced off too', () => {
    const context = { trigger: { payload: { text: 'a'.repeat(MAX_STRING_CHARS + 1) } } };
    expect(failure(() => evaluateCondition('trigger.payload.text.contains("b")', context))).toMatchObject({
      code: 'expression_input_too_large',
    });
  });

  it('values built inside the expression are paid for (doubling with cel.bind)', () => {
    const source =
      'cel.bind(a, [1, 2, 3, 4, 5, 6, 7, 8], cel.bind(b, a + a + a + a + a + a + a + a, cel.bind(c, b + b + b + b + b + b + b + b, ' +
      'cel.bind(d, c + c + c + c + c + c + c + c, cel.bind(e, d + d + d + d + d + d + d + d, e.exists(x, e.exists(y, x == 0)))))))';
    expect(failure(() => evaluateCondition(source, {}))).toMatchObject({ code: 'expression_budget_exceeded' });
  });

  it('one render of a step shares one budget across its templates', () => {
    const items = Array.from({ length: 60 }, (_, i) => i);
    // Each template alone stays under the budget; ten of them in one step do not.
    const one = '${{ trigger.items.filter(x, trigger.items.exists(y, y == x)).size() }}';
    const context = { trigger: { items } };
    expect(renderValue({ a: one }, context)).toEqual({ a: 60 });
    const many = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`p${i}`, one]));
    expect(failure(() => renderValue(many, context))).toMatchObject({ code: 'expression_budget_exceeded' });
    expect(MAX_EVALUATION_COST).toBeGreaterThan(0);
  });

  it('a wait step scanning a storm of attached events shares one budget', () => {
    const events = Array.from({ length: 200 }, (_, i) => ({ type: 'alert.attached', payload: { n: i, items: Array.from({ length: 100 }, (_, j) => j) } }));
    const until = { event: 'alert.attached', match: 'event.items.exists(x, x == 99999)' } as Parameters<typeof matchingEvent>[1];
    expect(failure(() => matchingEvent({ run: { events } }, until))).toMatchObject({ code: 'expression_budget_exceeded' });
    // A short scan within the budget finds its event.
    const few = events.slice(0, 5);
    expect(matchingEvent({ run: { events: few } }, { ...until, match: 'event.n == 3' })).toBe(few[3]);
  });

  it('matches() uses RE2: its syntax, and linear time on a pattern that backtracks in JS', () => {
    expect(evaluateCondition('"ABC".matches("(?i)^abc$")', {})).toBe(true);
    const text = `${'a'.repeat(5000)}!`;
    expect(evaluateCondition('trigger.text.matches("^(a+)+$")', { trigger: { text } })).toBe(false);
    expect(failure(() => evaluateCondition('"x".matches("(a)\\\\1")', {}))).toMatchObject({ code: 'expression_error' });
  }, 20_000);

  it('is an ExpressionError with a stable code', () => {
    expect(new ExpressionError('budget', 'x').code).toBe('expression_budget_exceeded');
    expect(compileExpression('1 + 1').evaluate({})).toBe(2);
  });
});
