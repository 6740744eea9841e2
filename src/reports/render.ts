import type { Report } from './core/model.js';
import { renderHtml } from './core/render-html.js';
import { renderMarkdown } from './core/render-markdown.js';
import type { ReportFormat } from './period.js';

/** One report model, three formats (Slack is rendered by Reports.post). */
export function renderReport(report: Report, format: ReportFormat): { text: string; contentType: string } {
  if (format === 'md') return { text: renderMarkdown(report), contentType: 'text/markdown; charset=utf-8' };
  if (format === 'html') return { text: renderHtml(report), contentType: 'text/html; charset=utf-8' };
  return { text: `${JSON.stringify(report, null, 2)}\n`, contentType: 'application/json' };
}
