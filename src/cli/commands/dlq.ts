import { QuenchError } from '../../core/errors.js';
import type { DeadLetter } from '../../engine/sql/dlq.js';
import { withBackend } from '../backend.js';
import { type Command, parseOptions } from '../command.js';
import type { Actor } from '../../engine/model.js';
import type { ServiceContext } from '../../service.js';

export const dlqListCommand: Command = {
  path: ['dlq', 'list'],
  summary: 'dead-lettered steps (failed for good), newest first',
  help: `Usage: quench dlq [list] [--all] [--json]

Lists steps that exhausted their retries or failed with a non-retryable error, with the last
error. --all includes entries already retried.`,
  async run(args, io) {
    const { values } = parseOptions(args, { all: { type: 'boolean' }, json: { type: 'boolean' } });
    return withBackend(io, async (backend) => {
      const letters =
        backend.kind === 'database'
          ? await backend.ctx.ports.engine.listDeadLetters({ all: values.all ?? false })
          : ((await backend.client.request('GET', `/v1/dlq${values.all ? '?all=true' : ''}`)) as { deadLetters: DeadLetter[] }).deadLetters;
      if (values.json) io.stdout(`${JSON.stringify(letters, null, 2)}\n`);
      else if (letters.length === 0) io.stdout('no dead-lettered steps\n');
      else {
        for (const d of letters) {
          const error = d.error as { code?: string; message?: string };
          io.stdout(
            `${d.id}  run=${d.runId} step=${d.stepKey} action=${d.action ?? '-'} attempts=${d.attempts} ${d.reason}: [${error.code}] ${error.message}${d.retriedAt ? ` (retried by ${d.retriedBy})` : ''}\n`,
          );
        }
      }
      return 0;
    });
  },
};

export const dlqCommand: Command = { ...dlqListCommand, path: ['dlq'], summary: 'dead-lettered steps (list | retry ID)' };

export const dlqRetryCommand: Command = {
  path: ['dlq', 'retry'],
  summary: 're-drive a dead-lettered step with a fresh budget of attempts',
  help: `Usage: quench dlq retry ID

Makes the step ready again with a fresh budget of attempts and reopens its run (a failed run
continues from the step; a run whose compensation failed resumes compensating). A running
'quench serve' picks it up. Runs that compensated or were cancelled are not re-driven.
Beside a running service on the embedded database (or with QUENCH_URL set) it goes through
POST /v1/dlq/ID/retry as QUENCH_TOKEN's user (a full-access token). On the database it is
recorded as QUENCH_TOKEN's user when that is set (a full-access token of QUENCH_API_TOKENS),
else as system:cli. There is no --as: a name is a claim, a token is a credential.`,
  async run(args, io) {
    const { values, positionals } = parseOptions(args, { as: { type: 'string' } }, true);
    const [id, ...rest] = positionals;
    if (!id || rest.length) throw new QuenchError('usage', 'expected exactly one dead-letter ID (see quench dlq list)');
    if (values.as !== undefined)
      throw new QuenchError(
        'usage',
        "--as is not accepted: the re-drive is recorded as the owner of QUENCH_TOKEN (a full-access token of QUENCH_API_TOKENS), or as system:cli without one",
      );
    return withBackend(io, async (backend) => {
      const { runId, stepId } =
        backend.kind === 'database'
          ? await backend.ctx.ports.engine.retryDeadLetter(id, databaseActor(backend.ctx, io.env.QUENCH_TOKEN?.trim()))
          : ((await backend.client.request('POST', `/v1/dlq/${encodeURIComponent(id)}/retry`)) as { runId: string; stepId: string });
      io.stdout(`re-driving step ${stepId} of run ${runId}\n`);
      return 0;
    });
  },
};

/** Who re-drives on the database: the owner of a presented full-access token, else the CLI itself. */
function databaseActor(ctx: ServiceContext, token: string | undefined): Actor {
  if (!token) return { type: 'system', id: 'cli' };
  const user = ctx.auth.identify(token);
  if (!user)
    throw new QuenchError('unauthorized', 'QUENCH_TOKEN is not a full-access token of QUENCH_API_TOKENS: fix it, or unset it to re-drive as system:cli');
  return { type: 'user', id: user };
}
