import { describe, expect, it } from 'vitest';
import { compileExpression, ExpressionError, evaluateCondition, MAX_EXPRESSION_LENGTH } from '../../../src/playbooks/core/expressions.js';

const context = {
  trigger: { source: 'alertmanager', severity: 'critical', labels: { service: 'checkout' }, occurredAt: new Date('2026-01-01T00:00:00Z') },
  inputs: { replicas: 3, ratio: 0.25, tags: ['a', 'b'] },
  steps: {
    diagnose: {
      status: 'succeeded',
      output: {
        errorRate: 0.12,
        pods: [
          { name: 'a', ready: true },
          { name: 'b', ready: false },
        ],
      },
    },
  },
  env: { REGION: 'eu-west-1' },
  run: { id: 'run-1', correlationId: 'corr-1' },
};

function errorOf(fn: () => unknown): ExpressionError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ExpressionError) return err;
    throw err;
  }
  throw new Error('expected an ExpressionError');
}

describe('CEL expressions', () => {
  it('evaluates conditions over the run context', () => {
    expect(evaluateCondition('trigger.severity == "critical" && trigger.labels.service == "checkout"', context)).toBe(true);
    expect(evaluateCondition('steps.diagnose.output.errorRate > 0.1', context)).toBe(true);
    expect(evaluateCondition('steps.diagnose.output.pods.exists(p, !p.ready)', context)).toBe(true);
    expect(evaluateCondition('env.REGION.startsWith("eu-")', context)).toBe(true);
    expect(evaluateCondition('has(trigger.labels.team)', context)).toBe(false);
  });

  it('treats whole JSON numbers as CEL ints and returns plain numbers', () => {
    expect(compileExpression('inputs.replicas + 1').evaluate(context)).toBe(4);
    expect(compileExpression('inputs.ratio * 2.0').evaluate(context)).toBe(0.5);
    expect(compileExpression('inputs.tags.map(t, t + "!")').evaluate(context)).toEqual(['a!', 'b!']);
    expect(compileExpression('{"n": inputs.replicas * 2}').evaluate(context)).toEqual({ n: 6 });
    expect(compileExpression('trigger.labels.?team.orValue("none")').evaluate(context)).toBe('none');
  });

  it('refuses a condition that is not a boolean', () => {
    expect(errorOf(() => evaluateCondition('inputs.replicas', context)).message).toBe(
      "condition 'inputs.replicas' yielded number 3, expected true or false",
    );
  });

  it('reports syntax errors with the offset', () => {
    const e = errorOf(() => compileExpression('trigger.severity == '));
    expect([e.kind, e.offset, e.message]).toEqual(['syntax', 20, 'Unexpected token: EOF']);
  });

  it('reports unknown variables and type errors at compile time', () => {
    const unknown = errorOf(() => compileExpression('inputs.x && secret.value'));
    expect([unknown.kind, unknown.offset, unknown.message]).toEqual(['type', 12, 'Unknown variable: secret']);
    const types = errorOf(() => compileExpression('1 + "a"'));
    expect(types.kind).toBe('type');
  });

  it('collects steps.<id> references', () => {
    expect(compileExpression('steps.a.output.x && steps["b"].status == "ok" && inputs.steps').stepRefs.sort()).toEqual(['a', 'b']);
  });

  describe('safety', () => {
    it.each(['trigger.__proto__', 'trigger.constructor', 'trigger.labels.toString', 'inputs.hasOwnProperty'])(
      '%s reads no prototype property',
      (expr) => {
        const e = errorOf(() => compileExpression(expr).evaluate(context));
        expect(e.kind).toBe('evaluation');
        expect(e.message).toMatch(/^No such key: /);
      },
    );

    it('does not see inherited properties of context objects', () => {
      const inherited = Object.create({ secret: 'x' }) as Record<string, unknown>;
      expect(() => compileExpression('inputs.secret').evaluate({ inputs: inherited })).toThrow(/No such key: secret/);
    });

    it('has no way to call into JavaScript', () => {
      for (const expr of ['eval("1")', 'Function("return 1")()', 'trigger.labels.constructor("x")', 'require("fs")']) {
        expect(() => compileExpression(expr).evaluate(context)).toThrow(ExpressionError);
      }
    });

    it('bounds the source length', () => {
      const long = `inputs.replicas == 1${' || inputs.replicas == 1'.repeat(Math.ceil(MAX_EXPRESSION_LENGTH / 24))}`;
      const e = errorOf(() => compileExpression(long));
      expect(e.kind).toBe('limit');
      expect(e.message).toMatch(/characters long; the limit is 1000/);
    });

    it('bounds the AST size', () => {
      const big = Array.from({ length: 300 }, () => '1').join('+');
      expect(errorOf(() => compileExpression(big)).kind).toBe('limit');
    });

    it('bounds comprehension nesting (cost grows with the data: n² allowed, n³ refused)', () => {
      expect(compileExpression('inputs.tags.all(a, inputs.tags.exists(b, a == b))').evaluate(context)).toBe(true);
      const e = errorOf(() => compileExpression('inputs.tags.all(a, inputs.tags.all(b, inputs.tags.exists(c, a == c)))'));
      expect([e.kind, e.message]).toEqual(['limit', 'comprehensions nested 3 deep; at most 2 are allowed']);
    });

    it('bounds literal sizes', () => {
      const list = `[${Array.from({ length: 150 }, (_, i) => i).join(',')}]`;
      expect(errorOf(() => compileExpression(list)).kind).toBe('limit');
    });
  });
});
