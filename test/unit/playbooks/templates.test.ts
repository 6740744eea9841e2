import { describe, expect, it } from 'vitest';
import { ExpressionError } from '../../../src/playbooks/core/expressions.js';
import {
  checkTemplate,
  isWholeTemplate,
  parseTemplate,
  renderTemplate,
  renderValue,
  templatesIn,
} from '../../../src/playbooks/core/templates.js';

const context = {
  trigger: { summary: 'High error rate', labels: { service: 'checkout' }, occurredAt: new Date('2026-03-01T12:00:00Z') },
  inputs: { replicas: 6, dryRun: false, owners: ['ana', 'bo'] },
  steps: { scale: { output: { previous: 3 } } },
  env: {},
  run: { id: 'run-9', correlationId: 'c-9' },
};

/** `${{ e }}` without writing the sequence in a plain string literal. */
const t = (expr: string) => `\${{ ${expr} }}`;

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s / 2 ** 32;
  };
}

describe('templates', () => {
  it('a string that is exactly one template yields the typed value', () => {
    expect(renderTemplate(t('inputs.replicas'), context)).toBe(6);
    expect(renderTemplate(`  ${t('inputs.dryRun')} `, context)).toBe(false);
    expect(renderTemplate(t('inputs.owners'), context)).toEqual(['ana', 'bo']);
    expect(renderTemplate(t('{"from": steps.scale.output.previous, "to": inputs.replicas}'), context)).toEqual({ from: 3, to: 6 });
  });

  it('interpolates text otherwise', () => {
    expect(renderTemplate(`${t('trigger.labels.service')}: ${t('trigger.summary')} (${t('inputs.replicas')} pods)`, context)).toBe(
      'checkout: High error rate (6 pods)',
    );
    expect(renderTemplate(`owners ${t('inputs.owners')}`, context)).toBe('owners ["ana","bo"]');
    expect(renderTemplate(`at ${t('trigger.occurredAt')}`, context)).toBe('at 2026-03-01T12:00:00.000Z');
  });

  it('leaves strings without templates alone, and $${{ is a literal', () => {
    expect(renderTemplate('plain {{ text }}', context)).toBe('plain {{ text }}');
    expect(renderTemplate(`keep $${t('x')}`, context)).toBe(`keep ${t('x')}`);
  });

  it('finds the end of a template past }} inside strings and map literals', () => {
    expect(parseTemplate(`a ${t('"}}" + "x"')} b`)).toEqual([{ text: 'a ' }, { expr: '"}}" + "x"', offset: 6 }, { text: ' b' }]);
    expect(renderTemplate(t('{"a": {"b": inputs.replicas}}.a.b'), context)).toBe(6);
  });

  it('reports an unterminated template and a bad expression with offsets in the string', () => {
    expect(() => parseTemplate('x ${{ inputs.replicas')).toThrow(ExpressionError);
    try {
      checkTemplate(`n=${t('inputs.replicas +')}`);
      expect.unreachable();
    } catch (err) {
      // The expression starts at offset 6 ("n=${{ "); its EOF is 17 characters in.
      expect((err as ExpressionError).offset).toBe(6 + 17);
    }
    expect(() => checkTemplate(`${t('')}`)).toThrow(/empty template/);
  });

  it('renders nested parameters and lists where templates are', () => {
    const params = { service: t('trigger.labels.service'), replicas: t('inputs.replicas'), tags: ['x', t('run.id')], n: 1, ok: true };
    expect(renderValue(params, context)).toEqual({ service: 'checkout', replicas: 6, tags: ['x', 'run-9'], n: 1, ok: true });
    expect(templatesIn(params).map((x) => x.path)).toEqual([['service'], ['replicas'], ['tags', 1]]);
  });

  it('isWholeTemplate distinguishes typed from interpolated strings', () => {
    expect(isWholeTemplate(t('inputs.replicas'))).toBe(true);
    expect(isWholeTemplate(`x${t('inputs.replicas')}`)).toBe(false);
    expect(isWholeTemplate(`${t('a')}${t('b')}`)).toBe(false);
    expect(isWholeTemplate('no template')).toBe(false);
  });

  it('random text without templates renders to itself; with random inserts, to the inserted values', () => {
    const next = rng(1234);
    const alphabet = 'ab {}$x"\'\\}:1.\n';
    const pick = (n: number) => Array.from({ length: n }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
    for (let i = 0; i < 500; i++) {
      const pieces = Array.from({ length: 1 + Math.floor(next() * 4) }, () =>
        pick(Math.floor(next() * 8))
          .replaceAll('${{', '')
          .replaceAll('$', ''),
      );
      const plain = pieces.join('');
      expect(renderTemplate(plain, context)).toBe(plain);
      const values = pieces.map(() => Math.floor(next() * 1000));
      const text = pieces.map((p, j) => `${p}${t(String(values[j]))}`).join('');
      const expected = pieces.map((p, j) => `${p}${values[j]}`).join('');
      const rendered = renderTemplate(text, context);
      if (pieces.length === 1 && pieces[0]!.trim() === '') expect(rendered).toBe(values[0]);
      else expect(rendered).toBe(expected);
    }
  });
});
