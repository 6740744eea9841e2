import { z } from 'zod';
import cron from 'node-cron';
import { gateBudgets } from '../gate/schema.js';
import type { Capability, ServiceContext } from '../service.js';
import type { SloStatus } from '../slo/core/status.js';
import type { ReportSlo } from './core/facts.js';
import { windowMs } from './core/window.js';
import { formatOf, formats, periodOf } from './period.js';
import { renderReport } from './render.js';
import { Reports } from './reports.js';
import { reportSchema } from './route-schemas.js';

function toReportSlo(s: Pick<SloStatus, 'name' | 'service' | 'objective' | 'window' | 'owner'>): ReportSlo {
  return {
    name: s.name,
    service: s.service,
    objective: s.objective,
    window: s.window,
    windowMs: windowMs(s.window) ?? 28 * 86_400_000,
    ...(s.owner?.slack ? { ownerChannel: s.owner.slack } : {}),
  };
}

/** The SLOs to report on: the evaluator's, else the statuses the leader stored (CLI, followers). */
export async function reportSlos(ctx: ServiceContext): Promise<ReportSlo[]> {
  if (ctx.ports.slo.running) return ctx.ports.slo.list().map(toReportSlo);
  const rows = await ctx.db.orm.select({ status: gateBudgets.status }).from(gateBudgets);
  return rows.map((r) => toReportSlo(r.status as SloStatus)).sort((a, b) => a.name.localeCompare(b.name));
}

export function createReports(ctx: ServiceContext, who: string): Reports {
  return new Reports({
    db: ctx.db,
    clock: ctx.clock,
    logger: ctx.logger.child({ component: 'reports' }),
    audit: ctx.audit,
    slos: () => reportSlos(ctx),
    chat: () => ctx.ports.chat,
    channel: ctx.config.QUENCH_REPORT_CHANNEL,
    who,
  });
}

/** How often unposted scheduled reports are looked for (each has its own back-off: store.ts). */
const POST_RETRY_TICK_MS = 60_000;

/**
 * The weekly SLO report: `GET /v1/reports`, and on QUENCH_REPORT_CRON (in TZ) the week ending
 * at the firing minute, produced once across replicas and cron double-fires (report_periods).
 * At start, weeks missed while the service was down are produced in the background; a scheduled
 * report Slack refused is posted later, from where it stopped (retryPosts).
 */
export const reportsCapability: Capability = (ctx) => {
  const log = ctx.logger.child({ component: 'reports' });
  const reports = createReports(ctx, ctx.ports.leader.id);
  ctx.router.add({
    method: 'GET',
    pattern: '/v1/reports',
    auth: 'read',
    doc: {
      summary: 'Reliability report for a period',
      query: z.object({ format: z.enum(formats).optional(), from: z.string().optional(), to: z.string().optional() }),
      responses: { 200: { description: 'The report: JSON (the default), or Markdown or HTML as format asks', body: reportSchema, alternatives: ['text/markdown', 'text/html'] } },
    },
    handler: async ({ query }) => {
      const format = formatOf(query.get('format') ?? undefined);
      const period = periodOf(query.get('from') ?? undefined, query.get('to') ?? undefined, ctx.clock.now());
      const { report } = await reports.produce(period.from, period.to, 'on_demand');
      const out = renderReport(report, format);
      return format === 'json' ? { status: 200, body: report } : { status: 200, text: out.text, headers: { 'content-type': out.contentType } };
    },
  });
  ctx.router.add({
    method: 'POST',
    pattern: '/v1/reports/post',
    auth: 'write',
    doc: { summary: 'Produce a report and post it to Slack', query: z.object({ from: z.string().optional(), to: z.string().optional() }), responses: { 200: { description: 'The report as posted', body: reportSchema } } },
    handler: async ({ query }) => {
      const period = periodOf(query.get('from') ?? undefined, query.get('to') ?? undefined, ctx.clock.now());
      const { report } = await reports.produce(period.from, period.to, 'on_demand', true);
      return { status: 200, body: report };
    },
  });
  let task: ReturnType<typeof cron.schedule> | undefined;
  let retries: ReturnType<typeof setInterval> | undefined;
  let running: Promise<void> | undefined;
  let retrying: Promise<unknown> | undefined;
  let catching: Promise<void> | undefined;
  // Scheduled reports Slack refused, or whose poster died, resumed where they stopped (posting.ts).
  const retry = () => {
    retrying ??= reports
      .retryPosts()
      .catch((err) => log.error({ err }, 'retrying SLO report posts failed'))
      .finally(() => {
        retrying = undefined;
      });
  };
  const fire = (at: Date) => {
    running = reports
      .scheduled(at)
      .catch((err) => log.error({ err }, 'the scheduled SLO report failed'))
      .finally(() => {
        running = undefined;
      });
  };
  return {
    name: 'reports',
    async start() {
      // In the background, progress logged (Reports.catchUp): the service is ready and serving
      // while missed weeks are produced and posted, however long Slack takes (the WebClient has
      // no timeout, and waits out 429s).
      catching = reports
        .catchUp(ctx.clock.now())
        .then(
          () => undefined,
          (err: unknown) => log.error({ err }, 'catching up on missed SLO reports failed'),
        )
        .finally(() => {
          catching = undefined;
        });
      retry();
      retries = setInterval(retry, POST_RETRY_TICK_MS);
      retries.unref();
      task = cron.schedule(ctx.config.QUENCH_REPORT_CRON, () => fire(ctx.clock.now()), {
        name: 'slo-report',
        noOverlap: true,
        ...(ctx.config.TZ ? { timezone: ctx.config.TZ } : {}),
      });
    },
    async stop() {
      await task?.stop();
      clearInterval(retries);
      // A posting in progress ends after its Slack call in flight, its lease let go (reports.ts).
      reports.stop();
      await catching;
      await running;
      await retrying;
    },
  };
};
