import { escapeText as text } from '../../chat/core/mrkdwn.js';
import { counts, hours, percent, sparkline, spreadText } from './format.js';
import type { Report, SloReport } from './model.js';

export interface SlackReport {
  text: string;
  blocks: Array<Record<string, unknown>>;
}

// Sections are mrkdwn, where `<!channel>`, `<@U…>` and `<url|label>` in an SLO name or service
// (free text in SLO files) would notify or forge a link: every user-derived text goes through
// text() (&, < and >, the three Slack says to escape). The header is plain_text and constant.
const section = (mrkdwn: string) => ({ type: 'section', text: { type: 'mrkdwn', text: mrkdwn } });

function sloLines(s: SloReport): string {
  return [
    `*${text(s.slo)}* (${text(s.service)}) objective ${percent(s.objective)}: period ${percent(s.attainment)}, window ${percent(s.windowAttainment)} (${text(s.window)})`,
    `budget ${percent(s.budgetAtStart)} → ${percent(s.budgetAtEnd)} \`${sparkline(s.burnDown.map((p) => p.budgetRemaining))}\``,
    `burn alerts: ${text(counts(s.alertsFired))} · freezes ${s.freezes.count} (${hours(s.freezes.totalSeconds)}) · overrides ${s.overridesGranted}`,
  ].join('\n');
}

/** A Block Kit message: the whole report, or only `services` for an owning team's channel. */
export function renderSlack(r: Report, services?: ReadonlySet<string>): SlackReport {
  const slos = services ? r.slos.filter((s) => services.has(s.service)) : r.slos;
  const x = r.response;
  const title = `Weekly SLO report ${r.period.from} – ${r.period.to}`;
  const blocks: Array<Record<string, unknown>> = [{ type: 'header', text: { type: 'plain_text', text: 'Weekly SLO report' } }, section(`${r.period.from} – ${r.period.to}`)];
  for (const s of slos) blocks.push(section(sloLines(s)));
  const response = [
    `*Response* runs started: ${text(counts(x.runsStarted))}`,
    `acknowledge ${spreadText(x.timeToAcknowledge)} · resolve ${spreadText(x.timeToResolve)}`,
    `human queue ${spreadText(x.humanQueueTime)} · decision ${spreadText(x.humanDecisionTime)}`,
    `SLA breaches ${x.slaBreaches} · escalations ${x.escalations} · reassignments ${x.reassignments}`,
    `first-pass yield ${x.firstPassYield.firstPass}/${x.firstPassYield.finished} (${percent(x.firstPassYield.ratio)}) · dead-lettered steps ${x.deadLetteredSteps}`,
    `auto-approvals ${x.autoApprovals.total} (${x.autoApprovals.sampledForReview} sampled for review)`,
    ...(x.drills ? [`drills run ${x.drills.run} (${text(counts(x.drills.byFinalState))}) · gaps found ${x.drills.gapsFound}`] : []),
  ];
  blocks.push({ type: 'divider' }, section(response.join('\n')));
  return { text: title, blocks };
}
