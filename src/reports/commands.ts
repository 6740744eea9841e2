import type { CliIO, Command } from '../cli/command.js';
import { cliConfig, parseOptions, withContext } from '../cli/command.js';
import { QuenchError } from '../core/errors.js';
import { callService, errorMessage } from '../gate/client.js';
import { createReports } from './capability.js';
import type { Report } from './core/model.js';
import { formatOf, periodOf } from './period.js';
import { renderReport } from './render.js';

async function fromService(io: CliIO, from: string | undefined, to: string | undefined, post: boolean): Promise<Report> {
  const config = cliConfig(io);
  const query = new URLSearchParams({ format: 'json', ...(from ? { from } : {}), ...(to ? { to } : {}) });
  const answer = post
    ? await callService(config.QUENCH_URL, config.QUENCH_TOKEN, 'POST', `/v1/reports/post?${query}`)
    : await callService(config.QUENCH_URL, config.QUENCH_TOKEN, 'GET', `/v1/reports?${query}`);
  if (answer.status !== 200) throw new QuenchError('bad_request', `the service refused the report: ${errorMessage(answer)}`);
  return answer.body as unknown as Report;
}

export const reportCommand: Command = {
  path: ['report'],
  summary: 'the SLO report of a period (default the last 7 days) as json, md or html',
  help: `Usage: quench report [--from TIME] [--to TIME] [--format json|md|html] [--post]

Prints the SLO report of the period (from, to]: RFC 3339 times with Z or an offset
(2026-11-23T09:00:00Z) or dates meaning midnight UTC (2026-11-23). Default: the 7 days up
to now; --from alone means the week from it. A finished period's report is computed once,
stored and served as stored thereafter.
  --format  json (default), md or html (a self-contained page with inline SVG charts)
  --post    also post it to Slack (QUENCH_REPORT_CHANNEL and the owning teams' channels);
            needs the running service (QUENCH_URL, QUENCH_TOKEN with write access)
With QUENCH_URL set the running service computes it; otherwise the database is opened directly.
Exit 0 printed, 1 error, 2 bad arguments.`,
  async run(args, io) {
    const { values } = parseOptions(args, { from: { type: 'string' }, to: { type: 'string' }, format: { type: 'string' }, post: { type: 'boolean' } });
    // Bad arguments exit 2 before the database is opened or the service asked.
    const usage = <T>(check: () => T): T => {
      try {
        return check();
      } catch (err) {
        throw new QuenchError('usage', (err as Error).message);
      }
    };
    const format = usage(() => formatOf(values.format));
    usage(() => periodOf(values.from, values.to, new Date()));
    const useService = values.post || Boolean(io.env.QUENCH_URL);
    const report = useService
      ? await fromService(io, values.from, values.to, values.post ?? false)
      : await withContext(io, async (ctx) => {
          const period = periodOf(values.from, values.to, ctx.clock.now());
          return (await createReports(ctx, 'cli').produce(period.from, period.to, 'on_demand')).report;
        });
    io.stdout(renderReport(report, format).text);
    return 0;
  },
};
