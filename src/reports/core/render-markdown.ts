import { revealInvisible } from '../../chat/core/mrkdwn.js';
import { counts, hours, percent, spreadText } from './format.js';
import type { Report } from './model.js';

/**
 * User text (SLO names, services, playbook names: free text in users' files) as literal text in
 * a GitHub-flavoured table cell or list item. A line break would end the row, so it becomes a
 * space; every character that could end the cell (`|`) or start markup — a code span, emphasis,
 * a link or image, raw HTML, an entity, math — is backslash-escaped (CommonMark lets any ASCII
 * punctuation be, and GFM reads `\|` in a cell as a pipe), the backslash itself first.
 */
const text = (s: string) => revealInvisible(s).replace(/\r\n?|\n/g, ' ').replace(/[\\`*_~[\]<>&|$]/g, '\\$&');

export function renderMarkdown(r: Report): string {
  const lines = [`# Weekly SLO report ${r.period.from} – ${r.period.to}`, ''];
  lines.push('| SLO | Service | Objective | Attainment (period) | Attainment (window) | Budget start | Budget end | Burn alerts | Freezes | Overrides |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|');
  for (const s of r.slos) {
    lines.push(
      `| ${text(s.slo)} | ${text(s.service)} | ${percent(s.objective)} | ${percent(s.attainment)}${s.met === false ? ' ✗' : ''} | ${percent(s.windowAttainment)} (${text(s.window)}) | ${percent(s.budgetAtStart)} | ${percent(s.budgetAtEnd)} | ${text(counts(s.alertsFired))} | ${s.freezes.count} (${hours(s.freezes.totalSeconds)}) | ${s.overridesGranted} |`,
    );
  }
  const x = r.response;
  lines.push('', '## Response', '');
  lines.push(`- Runs started: ${text(counts(x.runsStarted))}`);
  lines.push(`- Time to acknowledge: ${spreadText(x.timeToAcknowledge)}`);
  lines.push(`- Time to resolve: ${spreadText(x.timeToResolve)}`);
  lines.push(`- Human-step queue time: ${spreadText(x.humanQueueTime)}`);
  lines.push(`- Human-step decision time: ${spreadText(x.humanDecisionTime)}`);
  lines.push(`- SLA breaches: ${x.slaBreaches}`);
  lines.push(`- Escalations: ${x.escalations}; reassignments: ${x.reassignments}`);
  lines.push(`- First-pass yield: ${x.firstPassYield.firstPass}/${x.firstPassYield.finished} (${percent(x.firstPassYield.ratio)})`);
  lines.push(`- Dead-lettered steps: ${x.deadLetteredSteps}`);
  lines.push(`- Auto-approvals: ${x.autoApprovals.total} (${x.autoApprovals.sampledForReview} sampled for review)`);
  if (x.drills) lines.push(`- Drills run: ${x.drills.run} (${text(counts(x.drills.byFinalState))}); gaps found: ${x.drills.gapsFound}`);
  return `${lines.join('\n')}\n`;
}
