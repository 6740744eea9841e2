import { describe, expect, it } from 'vitest';
import { compileExpression, ExpressionError } from '../../../src/playbooks/core/expressions.js';
import { renderTemplate, renderValue } from '../../../src/playbooks/core/templates.js';

/**
 * CEL values JSON has no type for render as CEL's own string() conversion would: a duration
 * in seconds with an `s` suffix, bytes as their UTF-8 text. Their JS objects serialise to `{}`
 * and to a map of byte indexes, which is what a log line showed before.
 */

const t = (expr: string) => `\${{ ${expr} }}`;
const context = { trigger: { occurredAt: new Date('2026-03-01T12:00:00Z') } };
const render = (text: string) => renderTemplate(text, context);

describe('templates of CEL durations, bytes, timestamps and uints', () => {
  it('interpolates a duration as seconds with an s suffix', () => {
    expect(render(`dur ${t("duration('90m')")}`)).toBe('dur 5400s');
    expect(render(`dur ${t("duration('1.5s')")}`)).toBe('dur 1.5s');
    expect(render(`dur ${t("duration('-2h')")}`)).toBe('dur -7200s');
    expect(render(`dur ${t("timestamp('2026-03-01T13:00:00Z') - trigger.occurredAt")}`)).toBe('dur 3600s');
  });

  it('interpolates bytes as their UTF-8 text', () => {
    expect(render(`x${t('b"abc"')}`)).toBe('xabc');
    expect(render(`x${t('b"\\xc3\\xa9t\\xc3\\xa9"')}`)).toBe('xété');
  });

  it('fails with a clear error on bytes that are not UTF-8, instead of rendering garbage', () => {
    let error: unknown;
    try {
      render(`x${t('b"\\xff\\xfe"')}`);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ExpressionError);
    expect((error as ExpressionError).code).toBe('expression_error');
    expect((error as ExpressionError).message).toMatch(/not valid UTF-8.*\.hex\(\) or \.base64\(\)/);
    expect(render(`x${t('b"\\xff\\xfe".hex()')}`)).toBe('xfffe');
  });

  it('interpolates a timestamp as RFC 3339', () => {
    expect(render(`at ${t("trigger.occurredAt + duration('90m')")}`)).toBe('at 2026-03-01T13:30:00.000Z');
  });

  it('gives whole-value templates the string form of durations and bytes', () => {
    expect(render(t("duration('90m')"))).toBe('5400s');
    expect(render(t('b"abc"'))).toBe('abc');
    expect(renderValue({ timeout: t("duration('2m')"), list: [t("duration('1s')"), t('b"z"')] }, context)).toEqual({
      timeout: '120s',
      list: ['1s', 'z'],
    });
  });

  it('renders uints as numbers and types by name rather than as empty objects', () => {
    expect(render(t('uint(7)'))).toBe(7);
    expect(render(`n=${t('uint(7)')}`)).toBe('n=7');
    expect(render(`type=${t('type(1)')}`)).toBe('type=int');
  });

  it('renders an optional as its value, or as nothing when absent', () => {
    expect(compileExpression('optional.of(2)').evaluate({})).toBe(2);
    expect(render(`team=${t('optional.none()')}`)).toBe('team=');
  });
});
