import { describe, expect, it } from 'vitest';
import { durationMs, durationSchema, formatDuration, MAX_DURATION_MS, parseDuration } from '../../../src/playbooks/core/duration.js';

/** A seeded generator, so a failing case can be reproduced from its seed. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('durations', () => {
  it.each([
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
    ['2d', 172_800_000],
    ['1h0m5s', 3_605_000],
    ['1m500ms', 60_500],
    [' 10s ', 10_000],
    // Issue 15: one grammar with SLO files: weeks and decimal amounts.
    ['1.5h', 5_400_000],
    ['1w', 604_800_000],
    ['0.5s', 500],
  ])('parses %s', (text, ms) => {
    expect(parseDuration(text)).toEqual({ ok: true, ms });
  });

  it.each([
    ['', /empty duration/],
    ['5', /invalid duration '5'/],
    ['5 minutes', /invalid duration/],
    ['1.5ms', /whole number of milliseconds/],
    ['1w1d', /exceeds the maximum of 7d/],
    ['-5m', /invalid duration/],
    ['30m1h', /unit 'h' out of order or repeated/],
    ['5m5m', /unit 'm' out of order or repeated/],
    ['0s', /greater than zero/],
    ['8d', /exceeds the maximum of 7d/],
    ['5M', /invalid duration/],
  ])('rejects %j with a clear message', (text, message) => {
    const r = parseDuration(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(message);
  });

  it('formats to the canonical form and parses back (random round trips)', () => {
    const next = rng(42);
    for (let i = 0; i < 2000; i++) {
      const ms = 1 + Math.floor(next() * MAX_DURATION_MS);
      const text = formatDuration(ms);
      expect(text).toMatch(/^(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$/);
      expect(parseDuration(text)).toEqual({ ok: true, ms });
    }
  });

  it('accepts any ordered combination of units and sums them (random)', () => {
    const next = rng(7);
    const units: [string, number][] = [
      ['d', 86_400_000],
      ['h', 3_600_000],
      ['m', 60_000],
      ['s', 1_000],
      ['ms', 1],
    ];
    for (let i = 0; i < 1000; i++) {
      let text = '';
      let expected = 0;
      for (const [unit, size] of units) {
        if (next() < 0.5) continue;
        const n = Math.floor(next() * (unit === 'd' ? 2 : 100));
        text += `${n}${unit}`;
        expected += n * size;
      }
      const r = parseDuration(text);
      if (expected > 0 && expected <= MAX_DURATION_MS) expect(r).toEqual({ ok: true, ms: expected });
      else expect(r.ok).toBe(false);
    }
  });

  it('durationMs throws on invalid input; formatDuration refuses non-positive values', () => {
    expect(durationMs('1h')).toBe(3_600_000);
    expect(() => durationMs('soon')).toThrow(RangeError);
    expect(() => formatDuration(0)).toThrow(RangeError);
    expect(formatDuration(5_400_000)).toBe('1h30m');
  });

  it('the zod type reports the parser message', () => {
    const r = durationSchema.safeParse('1x');
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toMatch(/^invalid duration '1x'; expected a duration such as 30s/);
    expect(durationSchema.parse('45s')).toBe('45s');
  });
});

describe('one duration grammar for playbooks and SLO files (issue 15)', async () => {
  const slo = await import('../../../src/slo/core/duration.js');
  it.each(['30s', '5m', '1h30m', '1.5h', '1w', '250ms', '2d12h'])('%s means the same in both', (text) => {
    const p = parseDuration(text);
    expect(p.ok).toBe(true);
    expect(slo.parseDuration(text)).toBe(p.ok ? p.ms : NaN);
  });
  it.each(['30m1h', '5m5m', '5 minutes', '0s', '-5m'])('%s is refused by both', (text) => {
    expect(parseDuration(text).ok).toBe(false);
    expect(slo.parseDuration(text)).toBeUndefined();
  });
  it('SLO windows alone accept the calendar shorthands', () => {
    expect(slo.parseDuration('1M')).toBe(30 * 86_400_000);
    expect(slo.parseDuration('1Q')).toBe(90 * 86_400_000);
    expect(parseDuration('1M').ok).toBe(false);
  });
});
