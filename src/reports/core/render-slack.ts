import type { ContextBlock, HeaderBlock, KnownBlock, SectionBlock } from '@slack/types';
import { capText, escapeText as text, SLACK_LIMIT } from '../../chat/core/mrkdwn.js';
import { counts, hours, percent, sparkline, spreadText } from './format.js';
import type { Report, SloReport } from './model.js';

/** One Slack message of the report: the first is posted to the channel, the rest reply in its thread. */
export interface SlackMessage {
  text: string;
  blocks: KnownBlock[];
}

// Sections are mrkdwn, where `<!channel>`, `<@U…>` and `<url|label>` in an SLO name or service
// (free text in SLO files) would notify or forge a link: every user-derived text goes through
// text() (&, < and >, the three Slack says to escape). The header is plain_text and constant.
const section = (mrkdwn: string): SectionBlock => ({ type: 'section', text: { type: 'mrkdwn', text: mrkdwn } });
const context = (mrkdwn: string): ContextBlock => ({ type: 'context', elements: [{ type: 'mrkdwn', text: mrkdwn }] });
const HEADER: HeaderBlock = { type: 'header', text: { type: 'plain_text', text: 'Weekly SLO report' } };

// Slack refuses a whole message over its limits (invalid_blocks): a section's text over 3,000
// characters, more than 50 blocks. User text has no length limit of its own, so each field is
// capped before it is escaped into an entry; capped, an SLO entry stays under 2,100 characters
// (the rest is figures and a 28-character chart), so it always fits a section and is never cut
// as a whole. A cut name still shows its first thousand characters, enough to tell SLOs apart.
const CAP = { name: 1000, service: 300, window: 200, alerts: 300, playbooks: 1500 };
const field = (s: string, limit: number) => capText(text(s), limit);

function sloEntry(s: SloReport): string {
  return [
    `*${field(s.slo, CAP.name)}* (${field(s.service, CAP.service)}) objective ${percent(s.objective)}: period ${percent(s.attainment)}, window ${percent(s.windowAttainment)} (${field(s.window, CAP.window)})`,
    `budget ${percent(s.budgetAtStart)} → ${percent(s.budgetAtEnd)} \`${sparkline(s.burnDown.map((p) => p.budgetRemaining))}\``,
    `burn alerts: ${field(counts(s.alertsFired), CAP.alerts)} · freezes ${s.freezes.count} (${hours(s.freezes.totalSeconds)}) · overrides ${s.overridesGranted}`,
  ].join('\n');
}

/** SLO entries packed into as few sections as fit, blank line between entries, order kept. */
function packSections(entries: string[]): Array<{ text: string; first: number; last: number }> {
  const out: Array<{ text: string; first: number; last: number }> = [];
  entries.forEach((entry, i) => {
    const open = out.at(-1);
    if (open && open.text.length + 2 + entry.length <= SLACK_LIMIT.sectionText) {
      open.text += `\n\n${entry}`;
      open.last = i;
    } else out.push({ text: entry, first: i, last: i });
  });
  return out;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function summary(slos: readonly SloReport[]): string {
  if (slos.length === 0) return 'No SLOs.';
  const met = slos.filter((s) => s.met === true).length;
  const missed = slos.filter((s) => s.met === false).length;
  const idle = slos.length - met - missed;
  return `*${plural(slos.length, 'SLO')}*: ${met} met the objective over the period, ${missed} missed it${idle ? `, ${idle} without traffic` : ''}.`;
}

function responseText(r: Report): string {
  const x = r.response;
  return [
    `*Response* runs started: ${field(counts(x.runsStarted), CAP.playbooks)}`,
    `acknowledge ${spreadText(x.timeToAcknowledge)} · resolve ${spreadText(x.timeToResolve)}`,
    `human queue ${spreadText(x.humanQueueTime)} · decision ${spreadText(x.humanDecisionTime)}`,
    `SLA breaches ${x.slaBreaches} · escalations ${x.escalations} · reassignments ${x.reassignments}`,
    `first-pass yield ${x.firstPassYield.firstPass}/${x.firstPassYield.finished} (${percent(x.firstPassYield.ratio)}) · dead-lettered steps ${x.deadLetteredSteps}`,
    `auto-approvals ${x.autoApprovals.total} (${x.autoApprovals.sampledForReview} sampled for review)`,
    ...(x.drills ? [`drills run ${x.drills.run} (${text(counts(x.drills.byFinalState))}) · gaps found ${x.drills.gapsFound}`] : []),
  ].join('\n');
}

/**
 * The report as Block Kit messages: the whole report, or only `services` for an owning team's
 * channel. Several SLOs share a section. When everything fits one message (50 blocks) it is one
 * message; otherwise the first message is the summary and the response figures, and the SLOs
 * follow as replies in its thread, up to 49 sections each, in order, none left out.
 */
export function renderSlack(r: Report, services?: ReadonlySet<string>): SlackMessage[] {
  const slos = services ? r.slos.filter((s) => services.has(s.service)) : r.slos;
  const title = `Weekly SLO report ${r.period.from} – ${r.period.to}`;
  const head: KnownBlock[] = [HEADER, section(`${r.period.from} – ${r.period.to}\n${summary(slos)}`)];
  const tail: KnownBlock[] = [{ type: 'divider' }, section(responseText(r))];
  const sections = packSections(slos.map(sloEntry));
  if (head.length + sections.length + tail.length <= SLACK_LIMIT.messageBlocks) {
    return [{ text: title, blocks: [...head, ...sections.map((s) => section(s.text)), ...tail] }];
  }
  const perReply = SLACK_LIMIT.messageBlocks - 1;
  const replies: SlackMessage[] = [];
  for (let i = 0; i < sections.length; i += perReply) {
    const part = sections.slice(i, i + perReply);
    const range = `SLOs ${part[0]!.first + 1}–${part.at(-1)!.last + 1} of ${slos.length}`;
    replies.push({ text: `${title}: ${range}`, blocks: [context(range), ...part.map((s) => section(s.text))] });
  }
  const pointer = context(`SLO by SLO: in this thread, ${plural(replies.length, 'reply', 'replies')} (too many SLOs for one Slack message).`);
  return [{ text: title, blocks: [...head, pointer, ...tail] }, ...replies];
}
