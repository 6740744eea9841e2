import { QuenchError } from '../core/errors.js';
import { WEEK_MS } from './reports.js';

export const formats = ['json', 'md', 'html'] as const;
export type ReportFormat = (typeof formats)[number];

function parseTime(name: string, raw: string): Date {
  const text = /^\d{4}-\d{2}-\d{2}$/.test(raw) ? `${raw}T00:00:00Z` : raw;
  const t = Date.parse(text);
  if (!Number.isFinite(t) || !/^\d{4}-\d{2}-\d{2}/.test(raw)) {
    throw new QuenchError('bad_request', `${name} must be an RFC 3339 time or a date (2026-11-23T09:00:00Z or 2026-11-23), not '${raw.slice(0, 60)}'`);
  }
  return new Date(t);
}

/** The period asked for: default the 7 days up to now (to the minute); `from` alone means a week from it. */
export function periodOf(from: string | undefined, to: string | undefined, now: Date): { from: Date; to: Date } {
  const end = to ? parseTime('to', to) : from ? new Date(parseTime('from', from).getTime() + WEEK_MS) : new Date(Math.floor(now.getTime() / 60_000) * 60_000);
  const start = from ? parseTime('from', from) : new Date(end.getTime() - WEEK_MS);
  if (start.getTime() >= end.getTime()) throw new QuenchError('bad_request', `from (${start.toISOString()}) must be before to (${end.toISOString()})`);
  if (end.getTime() - start.getTime() > 400 * 86_400_000) throw new QuenchError('bad_request', 'a report covers at most 400 days: narrow from/to');
  return { from: start, to: end };
}

export function formatOf(raw: string | undefined): ReportFormat {
  const f = raw ?? 'json';
  if (!(formats as readonly string[]).includes(f)) throw new QuenchError('bad_request', `format must be one of ${formats.join(', ')}, not '${f.slice(0, 40)}'`);
  return f as ReportFormat;
}
