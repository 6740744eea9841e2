import { QuenchError } from '../core/errors.js';
import { withBackend } from '../cli/backend.js';
import { type Command, parseOptions } from '../cli/command.js';
import { type DeadDelivery, listDead, retryDead } from './inbox.js';

/**
 * `quench dlq inbox`: webhook deliveries (and SLO trigger events) whose processing failed every
 * attempt. They sit beside the engine's dead-lettered steps (`quench dlq list`): an inbox
 * entry never became a run, so it has no step to re-drive; retrying puts the stored body back
 * in the queue with a fresh budget of attempts.
 */
export const dlqInboxListCommand: Command = {
  path: ['dlq', 'inbox'],
  summary: 'dead-lettered webhook deliveries (inbox entries that failed every attempt)',
  help: `Usage: quench dlq inbox [--json]

Lists inbox entries that failed every processing attempt, oldest first, with the last error.
Retry one with 'quench dlq inbox retry ID' once the cause is fixed (a missing playbook, …).`,
  async run(args, io) {
    const { values } = parseOptions(args, { json: { type: 'boolean' } });
    return withBackend(io, async (backend) => {
      const dead =
        backend.kind === 'database'
          ? await listDead(backend.ctx.db)
          : ((await backend.client.request('GET', '/v1/inbox/dead')) as { entries: Array<Omit<DeadDelivery, 'receivedAt'> & { receivedAt: string }> }).entries.map(
              (e) => ({ ...e, receivedAt: new Date(e.receivedAt) }),
            );
      if (values.json) io.stdout(`${JSON.stringify(dead, null, 2)}\n`);
      else if (dead.length === 0) io.stdout('no dead-lettered inbox entries\n');
      else {
        for (const d of dead) {
          io.stdout(
            `${d.id}  source=${d.source} received=${d.receivedAt.toISOString()} attempts=${d.attempts}: ${d.lastError ?? '(no error recorded)'}\n`,
          );
        }
      }
      return 0;
    });
  },
};

export const dlqInboxRetryCommand: Command = {
  path: ['dlq', 'inbox', 'retry'],
  summary: 'put a dead-lettered inbox entry back in the queue',
  help: `Usage: quench dlq inbox retry ID

Makes the inbox entry pending again with a fresh budget of attempts; a running 'quench serve'
processes it at once (NOTIFY) or within its poll interval. Deduplication still applies: alerts
of the entry that were already processed are not processed again.`,
  async run(args, io) {
    const { positionals } = parseOptions(args, {}, true);
    const [id, ...rest] = positionals;
    if (!id || rest.length > 0 || !/^\d+$/.test(id))
      throw new QuenchError('usage', 'expected exactly one inbox entry ID (see quench dlq inbox)');
    return withBackend(io, async (backend) => {
      if (backend.kind === 'service') {
        await backend.client.request('POST', `/v1/inbox/${id}/retry`);
        io.stdout(`inbox entry ${id} queued again\n`);
        return 0;
      }
      const { ctx } = backend;
      if (!(await retryDead(ctx.db, Number(id), ctx.clock.now()))) {
        throw new QuenchError('not_found', `inbox entry ${id} is not dead-lettered, or QUENCH_INBOX_RETENTION already dropped its body (see quench dlq inbox)`);
      }
      await ctx.audit.append({ actor: { type: 'system', id: 'cli' }, action: 'ingest.dlq_retried', subject: { type: 'inbox', id } });
      io.stdout(`inbox entry ${id} queued again\n`);
      return 0;
    });
  },
};
