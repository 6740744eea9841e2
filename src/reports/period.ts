import { QuenchError } from '../core/errors.js';
import { parseRfc3339 } from '../core/rfc3339.js';
import { WEEK_MS } from './reports.js';

export const formats = ['json', 'md', 'html'] as const;
export type ReportFormat = (typeof formats)[number];

/** A `from`/`to` value: RFC 3339 or a date meaning midnight UTC (docs/reports.md); 400 otherwise. */
function parseTime(name: string, raw: string): Date {
  const parsed = parseRfc3339(raw);
  if (!parsed.ok) throw new QuenchError('bad_request', `${name} ${parsed.message}`);
  return parsed.at;
}

/**
 * The period asked for: default the 7 days up to now (to the minute); `from` alone means a week
 * from it. A value given empty (`?from=`) is refused, not taken for absent: a script whose
 * variable came out empty would otherwise get last week's report without a word.
 */
export function periodOf(from: string | undefined, to: string | undefined, now: Date): { from: Date; to: Date } {
  const end = to !== undefined ? parseTime('to', to) : from !== undefined ? new Date(parseTime('from', from).getTime() + WEEK_MS) : new Date(Math.floor(now.getTime() / 60_000) * 60_000);
  const start = from !== undefined ? parseTime('from', from) : new Date(end.getTime() - WEEK_MS);
  if (start.getTime() >= end.getTime()) throw new QuenchError('bad_request', `from (${start.toISOString()}) must be before to (${end.toISOString()})`);
  if (end.getTime() - start.getTime() > 400 * 86_400_000) throw new QuenchError('bad_request', 'a report covers at most 400 days: narrow from/to');
  return { from: start, to: end };
}

export function formatOf(raw: string | undefined): ReportFormat {
  const f = raw ?? 'json';
  if (!(formats as readonly string[]).includes(f)) throw new QuenchError('bad_request', `format must be one of ${formats.join(', ')}, not '${f.slice(0, 40)}'`);
  return f as ReportFormat;
}
