import { revealInvisible } from '../../chat/core/mrkdwn.js';
import { counts, hours, percent, spreadText } from './format.js';
import type { Report, SloReport } from './model.js';

const W = 560;
const H = 160;
const PAD = 24;

// Invisible reordering characters shown by code point, as in Slack (chat/core/mrkdwn.ts).
const escape = (s: string) => revealInvisible(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A line chart of one series over the period; points without a value are skipped. */
function lineChart(id: string, title: string, points: Array<{ t: number; v: number | null }>, from: number, to: number, max?: number): string {
  const present = points.filter((p): p is { t: number; v: number } => p.v !== null);
  const top = max ?? Math.max(1, ...present.map((p) => p.v));
  const bottom = Math.min(0, ...present.map((p) => p.v));
  const x = (t: number) => PAD + ((t - from) / Math.max(1, to - from)) * (W - 2 * PAD);
  const y = (v: number) => H - PAD - ((v - bottom) / Math.max(1e-9, top - bottom)) * (H - 2 * PAD);
  const path = present.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
  return `<figure><figcaption>${escape(title)}</figcaption><svg id="${id}" class="chart" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escape(title)}">
<line x1="${PAD}" y1="${H - PAD}" x2="${W - PAD}" y2="${H - PAD}" stroke="#999"/><line x1="${PAD}" y1="${PAD}" x2="${PAD}" y2="${H - PAD}" stroke="#999"/>
<text x="2" y="${PAD}" font-size="10">${top.toFixed(2)}</text><text x="2" y="${H - PAD}" font-size="10">${bottom.toFixed(2)}</text>
${present.length > 0 ? `<polyline fill="none" stroke="#2563eb" stroke-width="2" points="${path}"/>` : `<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no data</text>`}
</svg></figure>`;
}

/** Median and p90 bars of each response time. */
function responseChart(r: Report): string {
  const x = r.response;
  const rows = [
    ['acknowledge', x.timeToAcknowledge],
    ['resolve', x.timeToResolve],
    ['human queue', x.humanQueueTime],
    ['human decision', x.humanDecisionTime],
  ] as const;
  const max = Math.max(1, ...rows.map(([, s]) => s.p90 ?? 0));
  const bar = (i: number, j: number, v: number | null, color: string) =>
    `<rect x="${120}" y="${PAD + i * 32 + j * 12}" width="${(((v ?? 0) / max) * (W - 140)).toFixed(1) || 0}" height="10" fill="${color}"/>`;
  const body = rows
    .map(([label, s], i) => `<text x="4" y="${PAD + i * 32 + 14}" font-size="11">${label}</text>${bar(i, 0, s.median, '#2563eb')}${bar(i, 1, s.p90, '#f97316')}`)
    .join('\n');
  return `<figure><figcaption>Response times (blue median, orange p90; longest ${Math.round(max)}s)</figcaption><svg id="response-times" class="chart" width="${W}" height="${PAD * 2 + rows.length * 32}" viewBox="0 0 ${W} ${PAD * 2 + rows.length * 32}" role="img">${body}</svg></figure>`;
}

function sloSection(s: SloReport, i: number, from: number, to: number): string {
  const pts = s.burnDown.map((p) => ({ t: Date.parse(p.at), budget: p.budgetRemaining, burn: p.burnRate }));
  return `<section><h2>${escape(s.slo)} <small>${escape(s.service)}</small></h2>
<table><tr><th>Objective</th><td>${percent(s.objective)}</td><th>Attainment (period)</th><td class="${s.met === false ? 'bad' : ''}">${percent(s.attainment)}</td><th>Attainment (${escape(s.window)})</th><td>${percent(s.windowAttainment)}</td></tr>
<tr><th>Budget at start</th><td>${percent(s.budgetAtStart)}</td><th>Budget at end</th><td>${percent(s.budgetAtEnd)}</td><th>Burn alerts</th><td>${escape(counts(s.alertsFired))}</td></tr>
<tr><th>Freezes</th><td>${s.freezes.count} (${hours(s.freezes.totalSeconds)})</td><th>Overrides granted</th><td>${s.overridesGranted}</td><td></td><td></td></tr></table>
${lineChart(`budget-${i}`, 'Error budget remaining', pts.map((p) => ({ t: p.t, v: p.budget })), from, to, 1)}
${lineChart(`burn-${i}`, 'Burn rate (fastest page window)', pts.map((p) => ({ t: p.t, v: p.burn })), from, to)}
</section>`;
}

/** A self-contained page: no scripts, no external resources; charts are inline SVG. */
export function renderHtml(r: Report): string {
  const from = Date.parse(r.period.from);
  const to = Date.parse(r.period.to);
  const x = r.response;
  const items = [
    ['Runs started', counts(x.runsStarted)],
    ['Time to acknowledge', spreadText(x.timeToAcknowledge)],
    ['Time to resolve', spreadText(x.timeToResolve)],
    ['Human-step queue time', spreadText(x.humanQueueTime)],
    ['Human-step decision time', spreadText(x.humanDecisionTime)],
    ['SLA breaches', String(x.slaBreaches)],
    ['Escalations', String(x.escalations)],
    ['Reassignments', String(x.reassignments)],
    ['First-pass yield', `${x.firstPassYield.firstPass}/${x.firstPassYield.finished} (${percent(x.firstPassYield.ratio)})`],
    ['Dead-lettered steps', String(x.deadLetteredSteps)],
    ['Auto-approvals', `${x.autoApprovals.total} (${x.autoApprovals.sampledForReview} sampled for review)`],
    ...(x.drills ? [['Drills run', `${x.drills.run} (${counts(x.drills.byFinalState)}); gaps found: ${x.drills.gapsFound}`]] : []),
  ];
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Weekly SLO report ${escape(r.period.from)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left}.bad{color:#b91c1c;font-weight:bold}figure{margin:1em 0}</style></head>
<body><h1>Weekly SLO report</h1><p>${escape(r.period.from)} – ${escape(r.period.to)} (generated ${escape(r.generatedAt)})</p>
${r.slos.map((s, i) => sloSection(s, i, from, to)).join('\n')}
<section><h2>Response</h2><table>${items.map(([k, v]) => `<tr><th>${escape(k!)}</th><td>${escape(v!)}</td></tr>`).join('')}</table>
${responseChart(r)}</section></body></html>
`;
}
