import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/main.js';
import { isQuenchError } from '../../../src/core/errors.js';
import { periodOf } from '../../../src/reports/period.js';
import { zoneSwitching } from '../../support/time-zones.js';

/**
 * Report periods (`quench report --from/--to`, `GET /v1/reports?from=&to=`) are RFC 3339 times
 * or dates meaning UTC midnight (docs/reports.md). Attacks: dates that JavaScript rolls over
 * (2026-02-30 read as 2 March), and times without a zone, which Date.parse reads in the machine's
 * own zone, so the same command gave another period on another machine. Each case runs under
 * several TZ values (Node re-reads process.env.TZ on assignment) to prove zone independence.
 */
const NOW = new Date('2026-12-01T00:00:00Z');
const inEachZone = zoneSwitching();

function refusal(from: string | undefined, to: string | undefined): string {
  try {
    periodOf(from, to, NOW);
  } catch (err) {
    expect(isQuenchError(err, 'bad_request'), String(err)).toBe(true);
    return (err as Error).message;
  }
  throw new Error(`from=${from} to=${to} was accepted`);
}

describe('report period times', () => {
  it('refuses impossible calendar dates instead of rolling them over, naming the value', () => {
    inEachZone(() => {
      for (const [raw, why] of [
        ['2026-02-30', 'February 2026 has 28 days'],
        ['2026-02-29', 'February 2026 has 28 days'],
        ['2026-04-31', 'April 2026 has 30 days'],
        ['2026-02-30T00:00:00Z', 'February 2026 has 28 days'],
        ['2026-13-01', 'no month 13'],
        ['2026-00-10', 'no month 00'],
        ['2026-11-00', 'no day 00'],
      ] as const) {
        const message = refusal(raw, undefined);
        expect(message).toContain(`from '${raw}'`);
        expect(message).toContain(why);
      }
      expect(refusal(undefined, '2026-06-31')).toContain(`to '2026-06-31'`);
    });
  });

  it('refuses impossible times of day and offsets', () => {
    inEachZone(() => {
      for (const raw of ['2026-11-23T24:00:00Z', '2026-11-23T09:60:00Z', '2026-11-23T09:00:61Z', '2026-11-23T09:00:00+24:00', '2026-11-23T09:00:00+01:60']) {
        const message = refusal(raw, undefined);
        expect(message).toContain(`'${raw}'`);
      }
    });
  });

  it('refuses a date-time without a zone, saying to add Z or an offset', () => {
    inEachZone(() => {
      for (const raw of ['2026-11-23T09:00:00', '2026-11-23T09:00', '2026-11-23 09:00:00', '2026-11-23T09:00:00.250']) {
        const message = refusal(raw, undefined);
        expect(message).toContain(`from '${raw}'`);
        expect(message).toMatch(/add Z .*or an offset/);
      }
    });
  });

  it('refuses what is not a time at all, with the forms it takes', () => {
    for (const raw of ['yesterday', '2026-11-23garbage', '2026-11-23T09:00:00Zjunk', '23/11/2026', '2026-11-23T09:00:00+0100']) {
      const message = refusal(raw, undefined);
      expect(message).toContain(`'${raw}'`);
      expect(message).toContain('2026-11-23T09:00:00Z');
    }
    // Given empty (`?from=`, `--from ""`: a script's variable that came out empty) is refused,
    // not read as absent, which answered last week's report without a word.
    expect(refusal('', undefined)).toContain(`from '' is not a time`);
    expect(refusal(undefined, '')).toContain(`to '' is not a time`);
    expect(refusal('', '2026-11-30')).toContain(`from ''`);
    // Year 0000 passes the shape but PostgreSQL cannot store it: refused here, not as a 500 later.
    expect(refusal('0000-06-01', undefined)).toContain('years run from 0001 to 9999');
  });

  it('reads dates as UTC midnight and zoned times as their instant, whatever the machine zone', () => {
    inEachZone((zone) => {
      expect(periodOf('2024-02-29', undefined, NOW), zone).toEqual({ from: new Date('2024-02-29T00:00:00Z'), to: new Date('2024-03-07T00:00:00Z') });
      expect(periodOf('2026-11-23', '2026-11-30', NOW)).toEqual({ from: new Date('2026-11-23T00:00:00Z'), to: new Date('2026-11-30T00:00:00Z') });
      expect(periodOf('2026-11-23T10:00:00+01:00', '2026-11-23t12:30:00.5z', NOW)).toEqual({
        from: new Date('2026-11-23T09:00:00Z'),
        to: new Date('2026-11-23T12:30:00.500Z'),
      });
      expect(periodOf('2026-11-23 09:00Z', '2026-11-24T00:00:00-05:30', NOW)).toEqual({ from: new Date('2026-11-23T09:00:00Z'), to: new Date('2026-11-24T05:30:00Z') });
      expect(periodOf(undefined, undefined, NOW)).toEqual({ from: new Date('2026-11-24T00:00:00Z'), to: NOW });
      // RFC 3339 puts no limit on the digits of a fraction (found by an attacker: ten were refused
      // as 'no valid time zone').
      expect(periodOf('2026-11-23T09:00:00.1234567890Z', '2026-11-24T00:00:00.999999999999+00:00', NOW)).toEqual({
        from: new Date('2026-11-23T09:00:00.123Z'),
        to: new Date('2026-11-24T00:00:00.999Z'),
      });
    });
  });
});

describe('quench report with a bad period', () => {
  const run = async (args: string[], env: Record<string, string>) => {
    let stderr = '';
    const code = await runCli(['report', ...args], { stdout: () => undefined, stderr: (t) => void (stderr += t), env });
    return { code, stderr };
  };

  it('exits 2 naming the value, before asking the service (QUENCH_URL) or opening the database', async () => {
    // Nothing listens on port 9: a refusal that reached the service would fail differently.
    const remote = { QUENCH_URL: 'http://127.0.0.1:9', QUENCH_TOKEN: 'x'.repeat(40) };
    let out = await run(['--from', '2026-02-30'], remote);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("from '2026-02-30' is not a calendar date");
    out = await run(['--to', '2026-11-23T09:00:00'], remote);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/to '2026-11-23T09:00:00' has no time zone.*add Z/);
    out = await run(['--from', ''], remote);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("from '' is not a time");
    out = await run(['--from', '2026-02-30'], { QUENCH_DATA_DIR: 'memory://' });
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("from '2026-02-30' is not a calendar date");
  }, 60_000);
});
