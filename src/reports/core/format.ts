import type { Spread } from './stats.js';

/** One formatting of each figure, shared by Markdown, HTML and Slack so they show the same numbers. */
export const percent = (v: number | null) => (v === null ? 'n/a' : `${(v * 100).toFixed(3)}%`);
export const seconds = (v: number | null) => (v === null ? 'n/a' : `${Math.round(v)}s`);
export const spreadText = (s: Spread) => `median ${seconds(s.median)} · p90 ${seconds(s.p90)} (n=${s.count})`;
export const hours = (s: number) => `${(s / 3600).toFixed(1)}h`;
export const counts = (r: Record<string, number>) => {
  const e = Object.entries(r).sort(([a], [b]) => a.localeCompare(b));
  return e.length === 0 ? 'none' : e.map(([k, n]) => `${k} ${n}`).join(', ');
};

/** A compact text chart of a budget series: one block per point, height by budget left. */
export function sparkline(values: ReadonlyArray<number | null>, width = 28): string {
  const bars = '▁▂▃▄▅▆▇█';
  const present = values.filter((v): v is number => v !== null);
  if (present.length === 0) return '(no data)';
  const step = Math.max(1, Math.ceil(values.length / width));
  let out = '';
  for (let i = 0; i < values.length; i += step) {
    const v = values[i];
    out += v === null || v === undefined ? ' ' : bars[Math.min(7, Math.max(0, Math.round(Math.max(0, Math.min(1, v)) * 7)))];
  }
  return out;
}
