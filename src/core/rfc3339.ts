/**
 * Times people type (`quench report --from`, `?to=`): an RFC 3339 date-time, or a bare date
 * meaning midnight UTC. Date.parse is not used because it rolls impossible dates over
 * (2026-02-30 becomes 2 March) and reads a time without a zone in the machine's own zone, so the
 * same command meant another instant on another machine. Leniencies kept from what was accepted
 * before: seconds may be omitted, and a space may stand for the `T` (RFC 3339 §5.6 allows it).
 * Never throws: a message names the value and says what to write.
 */
export type TimeResult = { ok: true; at: Date } | { ok: false; message: string };

const FORMS = 'write an RFC 3339 time such as 2026-11-23T09:00:00Z or 2026-11-23T10:00:00+01:00, or a date such as 2026-11-23 (midnight UTC)';
const SHAPE = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(.*))?$/;
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
// RFC 3339's time-secfrac is `"." 1*DIGIT`: any number of digits, read to the millisecond.
// PostgreSQL stores years 0001 to 9999 as we send them (see timestamp.ts).
const FIRST = Date.parse('0001-01-01T00:00:00.000Z');
const LAST = Date.parse('9999-12-31T23:59:59.999Z');

/** Date.UTC reads years 0-99 as 1900-1999; setUTCFullYear does not. */
function utc(year: number, month: number, day: number, hour: number, minute: number, second: number, ms: number): Date {
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, ms);
  return d;
}

/** Day 0 of the next month is the last of this one. */
const daysInMonth = (year: number, month: number) => utc(year, month + 1, 0, 0, 0, 0, 0).getUTCDate();

export function parseRfc3339(text: string): TimeResult {
  const shown = `'${text.slice(0, 60)}'`;
  const m = SHAPE.exec(text);
  if (!m) return { ok: false, message: `${shown} is not a time: ${FORMS}` };
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (year < 1) return { ok: false, message: `${shown} is out of range: years run from 0001 to 9999` };
  if (month < 1 || month > 12) return { ok: false, message: `${shown} is not a calendar date: there is no month ${m[2]}; write a month from 01 to 12` };
  const last = daysInMonth(year, month);
  if (day < 1 || day > last) {
    return { ok: false, message: `${shown} is not a calendar date: ${day < 1 ? `there is no day ${m[3]}` : `${MONTHS[month - 1]} ${m[1]} has ${last} days`}; write a day from 01 to ${last}` };
  }
  if (m[4] === undefined) return { ok: true, at: utc(year, month, day, 0, 0, 0, 0) };
  const [hour, minute, second] = [Number(m[4]), Number(m[5]), Number(m[6] ?? 0)];
  if (hour > 23 || minute > 59 || second > 59) return { ok: false, message: `${shown} is not a time of day: hours run 00-23, minutes and seconds 00-59` };
  const zone = m[8]!;
  if (zone === '') {
    return { ok: false, message: `${shown} has no time zone, so it would mean another instant on each machine: add Z for UTC (${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] ?? '00'}Z) or an offset such as +01:00` };
  }
  const offset = /^(?:[Zz]|([+-])(\d{2}):(\d{2}))$/.exec(zone);
  if (!offset || Number(offset[2] ?? 0) > 23 || Number(offset[3] ?? 0) > 59) {
    return { ok: false, message: `${shown} has no valid time zone: end it with Z or an offset from -23:59 to +23:59 (+01:00); ${FORMS}` };
  }
  const offsetMs = offset[1] ? (offset[1] === '-' ? -1 : 1) * (Number(offset[2]) * 60 + Number(offset[3])) * 60_000 : 0;
  const ms = Math.floor(Number(`0${m[7] ?? ''}`) * 1000);
  const at = new Date(utc(year, month, day, hour, minute, second, ms).getTime() - offsetMs);
  if (at.getTime() < FIRST || at.getTime() > LAST) return { ok: false, message: `${shown} is out of range: years run from 0001 to 9999` };
  return { ok: true, at };
}
