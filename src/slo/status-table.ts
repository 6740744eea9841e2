import type { SloStatus } from './core/status.js';

/** The human table of `quench slo status`. */
const pct = (r: number | null, digits = 3) => (r === null ? '—' : `${(r * 100).toFixed(digits)}%`);
const num = (n: number | null) => (n === null ? '—' : n >= 100 ? n.toFixed(0) : n.toFixed(2));

function duration(seconds: number | null): string {
  if (seconds === null) return '—';
  if (seconds < 3600) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)}h`;
  return `${Math.round(seconds / 86_400)}d`;
}

function alert(a: SloStatus['alerts']['page']): string {
  return a.status === 'inactive' ? '-' : a.status;
}

export function formatStatusTable(statuses: SloStatus[]): string {
  if (statuses.length === 0) return 'no SLOs defined (QUENCH_SLO_DIR)\n';
  const header = ['SLO', 'SERVICE', 'OBJECTIVE', 'WINDOW', 'ATTAINMENT', 'BUDGET LEFT', 'BURN RATES', 'EXHAUSTED IN', 'PAGE', 'TICKET'];
  const rows = statuses.map((s) => [
    s.name,
    s.service,
    pct(s.objective, 2),
    s.window,
    s.state === 'error'
      ? 'error'
      : s.state === 'not_evaluated'
        ? s.error?.startsWith('no data source')
          ? 'no data source'
          : 'not evaluated'
        : pct(s.attainment),
    pct(s.errorBudget.remaining, 1),
    Object.entries(s.burnRates)
      .map(([w, b]) => `${w}:${num(b)}`)
      .join(' ') || '—',
    duration(s.timeToExhaustionSeconds),
    alert(s.alerts.page),
    alert(s.alerts.ticket),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    `${cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()}\n`;
  const notes = statuses.filter((s) => s.error).map((s) => `  ${s.name}: ${s.error}\n`);
  return line(header) + rows.map(line).join('') + (notes.length ? `\n${notes.join('')}` : '');
}

/** The deploy freezes (src/gate) under the table: what blocks deploys, and why. */
export function formatFreezes(freezes: Array<Record<string, unknown>>): string {
  if (freezes.length === 0) return '\nDeploy freezes: none\n';
  const lines = freezes.map((f) => {
    const services = Array.isArray(f.services) ? f.services.join(', ') : '';
    const until = typeof f.until === 'string' ? ` until ${f.until}` : ' until the budget recovers';
    return `  ${String(f.id)} ${services === '*' ? 'every service' : services} (blocks ${f.blocks === 'all' ? 'every' : 'high-risk'} deploy${until}): ${String(f.reason)}\n`;
  });
  return `\nDeploy freezes (${freezes.length}):\n${lines.join('')}`;
}
