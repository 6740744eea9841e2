import { describe, expect, it } from 'vitest';
import { MAX_UNTIL_MS, parseUntil } from '../../../src/gate/core/until.js';
import { zoneSwitching } from '../../support/time-zones.js';

/**
 * The end of a freeze or an override (`quench freeze|override request --until`, `until` in
 * `POST /v1/freezes` and `/v1/overrides`, `/quench freeze`, `deploy.freeze`): a duration from
 * now, or an RFC 3339 time (docs/gate.md). Attacks: dates that JavaScript rolls over (2026-02-30
 * read as 2 March), and times without a zone, which Date.parse reads in the machine's own zone,
 * so the same command froze until another instant on another machine. Each case runs under
 * several TZ values (Node re-reads process.env.TZ on assignment), as the report period's test does.
 */
const NOW = Date.parse('2026-01-05T00:00:00Z');
const inEachZone = zoneSwitching();

function refusal(raw: string): string {
  const r = parseUntil(raw, NOW);
  if (r.ok) throw new Error(`'${raw}' was accepted as ${r.at.toISOString()}`);
  return r.message;
}

describe('until', () => {
  it('refuses impossible calendar dates instead of rolling them over, naming the value', () => {
    inEachZone((zone) => {
      for (const [raw, why] of [
        ['2026-02-30', 'February 2026 has 28 days'],
        ['2026-02-29T12:00:00Z', 'February 2026 has 28 days'],
        ['2026-04-31T08:00:00Z', 'April 2026 has 30 days'],
        ['2026-13-01T00:00:00Z', 'no month 13'],
        ['2026-06-00', 'no day 00'],
      ] as const) {
        const message = refusal(raw);
        expect(message, `${zone} ${raw}`).toContain(`'${raw}'`);
        expect(message, `${zone} ${raw}`).toContain(why);
      }
    });
  });

  it('refuses impossible times of day and offsets', () => {
    inEachZone(() => {
      for (const raw of ['2026-03-01T24:00:00Z', '2026-03-01T09:60:00Z', '2026-03-01T09:00:00+24:00', '2026-03-01T09:00:00+0100', '2026-03-01T09:00:00Zjunk']) {
        expect(refusal(raw)).toContain(`'${raw}'`);
      }
    });
  });

  it('refuses a date-time without a zone, saying to add Z or an offset', () => {
    inEachZone(() => {
      for (const raw of ['2026-03-01T09:00:00', '2026-03-01T09:00', '2026-03-01 09:00:00', '2026-03-01T09:00:00.250']) {
        const message = refusal(raw);
        expect(message).toContain(`'${raw}'`);
        expect(message).toMatch(/add Z .*or an offset/);
      }
    });
  });

  it('reads zoned times as their instant and a date as midnight UTC, whatever the machine zone', () => {
    inEachZone((zone) => {
      expect(parseUntil('2026-01-06T00:00:00Z', NOW), zone).toEqual({ ok: true, at: new Date('2026-01-06T00:00:00Z') });
      expect(parseUntil('2026-01-06T10:00:00+01:00', NOW), zone).toEqual({ ok: true, at: new Date('2026-01-06T09:00:00Z') });
      expect(parseUntil('2026-01-06 09:30-05:30', NOW), zone).toEqual({ ok: true, at: new Date('2026-01-06T15:00:00Z') });
      expect(parseUntil('2026-01-06t09:00:00.5z', NOW), zone).toEqual({ ok: true, at: new Date('2026-01-06T09:00:00.500Z') });
      expect(parseUntil('2026-02-28', NOW), zone).toEqual({ ok: true, at: new Date('2026-02-28T00:00:00Z') });
      expect(parseUntil(' 2026-01-06T00:00:00Z ', NOW), zone).toEqual({ ok: true, at: new Date('2026-01-06T00:00:00Z') });
    });
  });

  it('keeps durations from now, the past refused, and a year at most', () => {
    inEachZone(() => {
      expect(parseUntil('2h', NOW)).toEqual({ ok: true, at: new Date(NOW + 7_200_000) });
      expect(parseUntil('3d', NOW)).toEqual({ ok: true, at: new Date(NOW + 3 * 86_400_000) });
      expect(parseUntil('1h30m', NOW)).toEqual({ ok: true, at: new Date(NOW + 5_400_000) });
      expect(refusal('2026-01-01T00:00:00Z')).toContain('in the past');
      expect(refusal('2026-01-05')).toContain('in the past');
      expect(parseUntil('2027-01-06T00:00:00Z', NOW)).toEqual({ ok: true, at: new Date(NOW + MAX_UNTIL_MS) });
      expect(refusal('2027-01-06T00:00:00.001Z')).toContain('at most 366 days');
      expect(refusal('next week')).toContain('neither a time');
    });
  });
});
