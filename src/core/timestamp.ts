import { z } from 'zod';

// PostgreSQL's timestamptz takes years 0001 to 9999 as we send them (Date#toISOString): a year
// 0000 or one above 9999 passes ISO 8601 and zod, and fails only at the INSERT, after a 202.
const FIRST = Date.parse('0001-01-01T00:00:00.000Z');
const LAST = Date.parse('9999-12-31T23:59:59.999Z');

/**
 * An ISO 8601 date-time with an offset that the database can store: checked at the edge, so a
 * payload answered 202 never fails later on its time.
 */
export const storableTimestamp = z.iso.datetime({ offset: true }).refine(
  (value) => {
    const ms = Date.parse(value);
    return ms >= FIRST && ms <= LAST;
  },
  { message: 'must fall between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z' },
);
