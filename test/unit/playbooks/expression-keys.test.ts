import { describe, expect, it } from 'vitest';
import { compileExpression, evaluateCondition } from '../../../src/playbooks/core/expressions.js';
import { renderTemplate, renderValue } from '../../../src/playbooks/core/templates.js';

/**
 * Payload keys are data, whatever their name. cel-js types an object by its `constructor`
 * property and a `__proto__` assignment sets a prototype, so keys named like Object's own
 * machinery once broke or vanished from every map that held them.
 */

const KEYS = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'prototype', 'valueOf'] as const;
// CEL reserves `__proto__` and `prototype` as identifiers: those are read with m["key"] only.
const DOTTABLE = new Set(['constructor', 'toString', 'hasOwnProperty', 'valueOf']);

/** A webhook payload as the ingest parses it: JSON.parse keeps `__proto__` as an own key. */
function labelsWith(key: string): Record<string, unknown> {
  return JSON.parse(`{"service": "api", ${JSON.stringify(key)}: "x"}`) as Record<string, unknown>;
}

const condition = (source: string, labels: Record<string, unknown>) => evaluateCondition(source, { trigger: { labels } });

describe('CEL maps with keys named like Object properties', () => {
  it('keeps the other fields readable when a key is named constructor (the reported decide branch)', () => {
    const labels = JSON.parse('{"service":"api","constructor":"x"}') as Record<string, unknown>;
    expect(condition('has(trigger.labels.service) && trigger.labels.service == "api"', labels)).toBe(true);
  });

  for (const key of KEYS) {
    describe(`a key named ${key}`, () => {
      const labels = labelsWith(key);
      const lit = JSON.stringify(key);

      it('is read by index, tested by `in` and counted by size()', () => {
        expect(condition(`trigger.labels[${lit}] == "x"`, labels)).toBe(true);
        expect(condition(`${lit} in trigger.labels`, labels)).toBe(true);
        expect(condition('trigger.labels.size() == 2 && size(trigger.labels) == 2', labels)).toBe(true);
        expect(condition('trigger.labels.service == "api"', labels)).toBe(true);
      });

      if (DOTTABLE.has(key)) {
        it('is read by field selection and has()', () => {
          expect(condition(`trigger.labels.${key} == "x"`, labels)).toBe(true);
          expect(condition(`has(trigger.labels.${key})`, labels)).toBe(true);
        });
      }

      it('is iterated by the comprehension macros', () => {
        expect(condition(`trigger.labels.exists(k, k == ${lit})`, labels)).toBe(true);
        expect(condition(`trigger.labels.all(k, trigger.labels[k] in ["api", "x"])`, labels)).toBe(true);
        expect(condition(`trigger.labels.filter(k, k == ${lit}).size() == 1`, labels)).toBe(true);
        expect(compileExpression('trigger.labels.map(k, trigger.labels[k])').evaluate({ trigger: { labels } })).toEqual(['api', 'x']);
      });

      it('comes back to JSON as a plain own key, without touching any prototype', () => {
        const out = compileExpression('trigger.labels').evaluate({ trigger: { labels } }) as Record<string, unknown>;
        expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
        expect(Object.keys(out)).toEqual(['service', key]);
        expect(Object.getOwnPropertyDescriptor(out, key)?.value).toBe('x');
        expect(JSON.stringify(out)).toBe(JSON.stringify(labels));
        expect(({} as Record<string, unknown>)[key]).not.toBe('x');
      });
    });
  }

  it('sees absent keys as absent, even those every JS object inherits', () => {
    const labels = { service: 'api' };
    expect(condition('has(trigger.labels.constructor) || has(trigger.labels.toString)', labels)).toBe(false);
    expect(condition('"__proto__" in trigger.labels || "hasOwnProperty" in trigger.labels', labels)).toBe(false);
    expect(condition('trigger.labels.size() == 1', labels)).toBe(true);
    expect(() => condition('trigger.labels.constructor == "x"', labels)).toThrow(/No such key: constructor/);
  });

  it('shows only own fields of a context object, not inherited ones', () => {
    const labels = Object.assign(Object.create({ inherited: 'yes' }) as Record<string, unknown>, { service: 'api' });
    expect(condition('has(trigger.labels.inherited) || "inherited" in trigger.labels', labels)).toBe(false);
    expect(condition('trigger.labels.size() == 1', labels)).toBe(true);
  });

  it('renders such maps into parameters as data', () => {
    const labels = labelsWith('__proto__');
    const params = renderValue({ all: '${{ trigger.labels }}', text: 'l=${{ trigger.labels }}' }, { trigger: { labels } }) as {
      all: Record<string, unknown>;
      text: string;
    };
    expect(Object.getPrototypeOf(params.all)).toBe(Object.prototype);
    expect(Object.keys(params.all)).toEqual(['service', '__proto__']);
    expect(params.text).toBe('l={"service":"api","__proto__":"x"}');
    expect(renderTemplate('${{ trigger.labels["constructor"] }}', { trigger: { labels: labelsWith('constructor') } })).toBe('x');
  });

  it('still compares payload maps with map literals', () => {
    expect(condition('trigger.labels == {"service": "api", "toString": "x"}', labelsWith('toString'))).toBe(true);
  });
});
