import { z } from 'zod';
import { parseRfc3339 } from './rfc3339.js';

// PostgreSQL's timestamptz takes years 0001 to 9999 as we send them (Date#toISOString): a year
// 0000 or one above 9999 passes ISO 8601 and zod, and fails only at the INSERT, after a 202.
const FIRST = Date.parse('0001-01-01T00:00:00.000Z');
const LAST = Date.parse('9999-12-31T23:59:59.999Z');

const FORM = 'write a T between date and time, seconds, and Z or an offset (2026-11-21T19:04:05Z)';

/**
 * Why a value is not a date-time this schema takes, naming it and what to write (zod's own
 * 'Invalid ISO datetime' said neither). parseRfc3339 explains impossible dates, times and
 * zones; it also accepts forms refused here (a date alone, a space for the T), which are told
 * the form instead.
 */
function dateTimeProblem(input: unknown): string {
  if (typeof input !== 'string') return `expected an RFC 3339 date-time string; ${FORM}`;
  const shown = `'${input.slice(0, 60)}'`;
  const read = parseRfc3339(input);
  if (read.ok || read.message.startsWith(`${shown} is not a time:`)) return `${shown} is not an RFC 3339 date-time as this field needs: ${FORM}`;
  return read.message;
}

/**
 * An ISO 8601 date-time with an offset that the database can store: checked at the edge, so a
 * payload answered 202 never fails later on its time.
 */
export const storableTimestamp = z.iso.datetime({ offset: true, error: (issue) => dateTimeProblem(issue.input) }).refine(
  (value) => {
    const ms = Date.parse(value);
    // NaN: the format check above has already said what is wrong.
    return Number.isNaN(ms) || (ms >= FIRST && ms <= LAST);
  },
  { error: (issue) => `'${String(issue.input).slice(0, 60)}' is out of range: write a time between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z (in UTC)` },
);
