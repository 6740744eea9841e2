import { describe, expect, it } from 'vitest';
import { isQuenchError } from '../../../src/core/errors.js';
import { parseJson } from '../../../src/http/body.js';

/** PostgreSQL refuses U+0000 and unpaired surrogates in jsonb and text: parseJson refuses them first, as a 400. */
describe('parseJson refuses strings PostgreSQL cannot store', () => {
  const refused = (text: string) => {
    try {
      parseJson(text);
    } catch (err) {
      return isQuenchError(err) && err.code === 'bad_request' && /cannot be stored/.test(err.message);
    }
    return false;
  };

  it.each([
    ['NUL in a value', '{"a":"x\\u0000"}'],
    ['NUL in a key', '{"a\\u0000":1}'],
    ['lone high surrogate', '{"a":["\\ud800"]}'],
    ['lone low surrogate in a key', '{"\\udc00":1}'],
    ['reversed pair', '"\\udc00\\ud800"'],
  ])('%s', (_name, text) => expect(refused(text)).toBe(true));

  // Without a \u escape parseJson skips the reviver: the text itself must then be checked.
  it.each([
    ['raw lone surrogate in a value (a string argument, no escape)', '{"a":"x\ud800"}'],
    ['raw lone surrogate in a key', '{"\udc00":1}'],
  ])('%s', (_name, text) => expect(refused(text)).toBe(true));

  it('parses a body without escapes as JSON.parse does', () => {
    const body = '{"id":"e-1","labels":{"service":"checkout"},"n":[1,2.5,null,true],"s":"🔥 é \\n"}';
    expect(parseJson(body)).toEqual(JSON.parse(body));
  });

  it('keeps surrogate pairs, other escapes and numbers', () => {
    expect(parseJson('{"s":"\\ud83d\\udd25 \\u0001 é","n":1e400}')).toEqual({ s: '🔥 \u0001 é', n: Infinity });
  });
});
