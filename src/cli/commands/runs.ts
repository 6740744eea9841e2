import { QuenchError } from '../../core/errors.js';
import { runStates } from '../../engine/core/states.js';
import type { RunDetail, RunSummary } from '../../engine/sql/queries.js';
import { type Scorecard, scorecardText } from '../../drills/core/scorecard.js';
import { storedScorecard } from '../../drills/scorer.js';
import { withBackend } from '../backend.js';
import { type Command, parseOptions } from '../command.js';

const iso = (d: Date | string | null) => (d ? new Date(d).toISOString().replace('.000Z', 'Z') : '-');

function listText(runs: RunSummary[]): string {
  if (runs.length === 0) return 'no runs\n';
  const lines = runs.map(
    (r) => `${r.id}  ${r.state.padEnd(19)} ${r.playbook.padEnd(24)} ${iso(r.createdAt)}  ${r.correlationId}${r.drill ? '  (drill)' : ''}`,
  );
  return `${'RUN'.padEnd(36)}  ${'STATE'.padEnd(19)} ${'PLAYBOOK'.padEnd(24)} ${'STARTED'.padEnd(20)}  CORRELATION\n${lines.join('\n')}\n`;
}

function showText(run: RunDetail): string {
  const head = [
    `${run.drill ? 'DRILL ' : ''}run ${run.id}: ${run.state}`,
    `  playbook     ${run.playbook} (${run.playbookHash})`,
    `  correlation  ${run.correlationId}`,
    `  started      ${iso(run.createdAt)} by ${run.startedBy}${run.endedAt ? `, ended ${iso(run.endedAt)}` : ''}`,
    ...(run.error ? [`  error        ${JSON.stringify(run.error)}`] : []),
    '  steps:',
  ];
  const steps = run.steps.flatMap((s) => {
    const line = `    ${iso(s.startedAt ?? s.createdAt)}  ${s.key.padEnd(28)} ${s.kind.padEnd(8)} ${s.status.padEnd(10)} id=${s.id}`;
    const attempts = s.attempts.map(
      (a) =>
        `        attempt ${a.attempt} ${a.status}${a.takeovers ? ` (taken over ${a.takeovers}x)` : ''} key=${a.idempotencyKey}${a.error ? ` error=${JSON.stringify((a.error as { message?: string }).message ?? a.error)}` : ''}`,
    );
    const extra = s.status === 'waiting' && s.kind === 'human' ? [`        waiting for a decision: QUENCH_TOKEN=<your token> quench approve ${s.id}`] : [];
    return [line, ...attempts, ...extra];
  });
  return `${[...head, ...steps].join('\n')}\n`;
}

export const runsListCommand: Command = {
  path: ['runs', 'list'],
  summary: 'list runs (newest first); --state to filter, --json for JSON',
  help: `Usage: quench runs [list] [--state STATE[,STATE…]] [--limit N] [--json]

Lists playbook runs, newest first. States: ${runStates.join(', ')}.
Beside a running 'quench serve' on the embedded database (or with QUENCH_URL set) the runs
come from the service's /v1 API.`,
  async run(args, io) {
    const { values } = parseOptions(args, { state: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } });
    const state = values.state?.split(',').filter(Boolean) ?? [];
    const bad = state.filter((s) => !(runStates as readonly string[]).includes(s));
    if (bad.length) throw new QuenchError('usage', `unknown state ${bad.join(', ')}; expected one of ${runStates.join(', ')}`);
    if (values.limit !== undefined && !/^\d+$/.test(values.limit)) throw new QuenchError('usage', '--limit must be a whole number');
    return withBackend(io, async (backend) => {
      let runs: RunSummary[];
      if (backend.kind === 'database')
        runs = await backend.ctx.ports.engine.listRuns({ state: state as never, ...(values.limit ? { limit: Number(values.limit) } : {}) });
      else {
        const query = new URLSearchParams({ ...(state.length ? { state: state.join(',') } : {}), ...(values.limit ? { limit: values.limit } : {}) });
        runs = ((await backend.client.request('GET', `/v1/runs${query.size ? `?${query}` : ''}`)) as { runs: RunSummary[] }).runs;
      }
      io.stdout(values.json ? `${JSON.stringify(runs, null, 2)}\n` : listText(runs));
      return 0;
    });
  },
};

export const runsCommand: Command = { ...runsListCommand, path: ['runs'], summary: 'runs and their step timelines (list | show ID)' };

export const runsShowCommand: Command = {
  path: ['runs', 'show'],
  summary: "one run's step timeline with attempts, idempotency keys and decisions",
  help: `Usage: quench runs show RUN_ID [--json]

Shows a run's state and its steps in order, each with its attempts (idempotency key,
takeovers, errors). Waiting human steps show the command that decides them.
Exit 1 when there is no such run.`,
  async run(args, io) {
    const { values, positionals } = parseOptions(args, { json: { type: 'boolean' } }, true);
    const [id, ...rest] = positionals;
    if (!id || rest.length) throw new QuenchError('usage', 'expected exactly one RUN_ID');
    return withBackend(io, async (backend) => {
      const run =
        backend.kind === 'database'
          ? await backend.ctx.ports.engine.getRun(id)
          : await (backend.client.request('GET', `/v1/runs/${encodeURIComponent(id)}`) as Promise<RunDetail>).catch((err: unknown) => {
              if (err instanceof QuenchError && err.code === 'not_found') return undefined;
              throw err;
            });
      if (!run) throw new QuenchError('not_found', `no run with id ${id}; 'quench runs list' shows the runs`);
      // A finished drill's scorecard (src/drills), stored by the service when the drill ended.
      const scorecard = !run.drill
        ? undefined
        : backend.kind === 'database'
          ? await storedScorecard(backend.ctx, id)
          : await (backend.client.request('GET', `/v1/runs/${encodeURIComponent(id)}/scorecard`) as Promise<Scorecard>).catch(() => undefined);
      io.stdout(values.json ? `${JSON.stringify(scorecard ? { ...run, scorecard } : run, null, 2)}\n` : showText(run) + (scorecard ? scorecardText(scorecard) : ''));
      return 0;
    });
  },
};
