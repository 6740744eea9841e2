import type { CliIO, Command } from '../cli/command.js';
import { cliConfig, parseOptions } from '../cli/command.js';
import { asQuenchError, QuenchError } from '../core/errors.js';
import { callService, errorMessage } from './client.js';
import { describeAnswer, type GateAnswer } from './core/decide.js';
import type { Freeze, Override } from './core/model.js';

const EXIT_ALLOWED = 0;
const EXIT_FROZEN = 3;
const EXIT_ERROR = 2;

function target(io: CliIO) {
  const config = cliConfig(io);
  return { base: config.QUENCH_URL, token: config.QUENCH_TOKEN };
}

export const gateCheckCommand: Command = {
  path: ['gate', 'check'],
  summary: 'ask the deploy gate: exit 0 allowed, 3 frozen, 2 error',
  help: `Usage: quench gate check SERVICE [--risk low|high] [--change ID] [--json]

Asks the running service (QUENCH_URL, default http://localhost:3000; token QUENCH_TOKEN)
whether SERVICE may deploy now. Prints the answer and its reasons on stdout.
  --risk    high (default: an ordinary deploy) or low (rollback, security fix, config revert)
  --change  the change id (commit SHA, release); overrides may name it; blocked answers are audited with it
  --json    print the service's JSON answer
Exit 0 allowed, 3 frozen, 2 error (unknown service, service unreachable, bad arguments).`,
  async run(args, io) {
    try {
      const { values, positionals } = parseOptions(args, { risk: { type: 'string' }, change: { type: 'string' }, json: { type: 'boolean' } }, true);
      const [service, ...rest] = positionals;
      if (!service || rest.length > 0) throw new QuenchError('usage', 'expected exactly one SERVICE');
      const query = new URLSearchParams({ service, risk: values.risk ?? 'high', ...(values.change ? { change: values.change } : {}) });
      const { base, token } = target(io);
      const answer = await callService(base, token, 'GET', `/v1/deploy-gate?${query}`);
      if (answer.status !== 200 && answer.status !== 423) throw new QuenchError('internal', `the deploy gate refused the question: ${errorMessage(answer)}`);
      const gate = answer.body as unknown as GateAnswer;
      io.stdout(values.json ? `${JSON.stringify(gate, null, 2)}\n` : `${describeAnswer(gate)}\n`);
      return gate.allowed ? EXIT_ALLOWED : EXIT_FROZEN;
    } catch (err) {
      const e = asQuenchError(err);
      io.stderr(`quench gate check: ${e.message}\n`);
      return EXIT_ERROR;
    }
  },
};

async function mutate(io: CliIO, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const { base, token } = target(io);
  if (!token) throw new QuenchError('unauthorized', 'set QUENCH_TOKEN to a token from the service\'s QUENCH_API_TOKENS: freezes and overrides record who acted');
  const answer = await callService(base, token, method, path, body);
  if (answer.status >= 300) throw new QuenchError('bad_request', errorMessage(answer));
  return answer.body;
}

export const freezeCommand: Command = {
  path: ['freeze'],
  summary: 'freeze deploys of services (or * for all) until a time, with a reason',
  help: `Usage: quench freeze SERVICE… --reason TEXT --until TIME

Freezes high-risk deploys of each SERVICE ('*' for every service) until TIME: a duration from
now (4h, 3d), or an RFC 3339 time with Z or an offset (2026-12-24T18:00:00Z,
2026-12-24T19:00:00+01:00; a date alone is midnight UTC). Announced in the owners' Slack
channels and audited. Acts through the running service (QUENCH_URL) as QUENCH_TOKEN's user.
Prints the freeze id ('quench unfreeze ID' lifts it early).`,
  async run(args, io) {
    const { values, positionals } = parseOptions(args, { reason: { type: 'string' }, until: { type: 'string' } }, true);
    if (positionals.length === 0) throw new QuenchError('usage', "name at least one SERVICE (or '*' for every service)");
    if (!values.reason?.trim()) throw new QuenchError('usage', '--reason TEXT is required');
    if (!values.until) throw new QuenchError('usage', '--until TIME is required (e.g. 4h or 2026-12-24T18:00:00Z)');
    const f = (await mutate(io, 'POST', '/v1/freezes', { services: positionals, reason: values.reason, until: values.until })) as unknown as Freeze;
    io.stdout(`${f.id}\nfrozen: ${f.services.join(', ')} until ${f.until}: ${f.reason}\n`);
    return 0;
  },
};

export const unfreezeCommand: Command = {
  path: ['unfreeze'],
  summary: 'lift a manual deploy freeze early',
  help: `Usage: quench unfreeze ID [--reason TEXT]

Lifts the manual freeze ID ('GET /v1/freezes' lists them). The error budget policy's own freezes
lift themselves when the budget recovers; for one change, request an override instead.`,
  async run(args, io) {
    const { values, positionals } = parseOptions(args, { reason: { type: 'string' } }, true);
    const [id, ...rest] = positionals;
    if (!id || rest.length > 0) throw new QuenchError('usage', 'expected exactly one freeze ID');
    const query = values.reason ? `?${new URLSearchParams({ reason: values.reason })}` : '';
    const f = (await mutate(io, 'DELETE', `/v1/freezes/${encodeURIComponent(id)}${query}`)) as unknown as Freeze;
    io.stdout(`lifted ${f.id} (${f.services.join(', ')})\n`);
    return 0;
  },
};

export const overrideRequestCommand: Command = {
  path: ['override', 'request'],
  summary: "ask for a time-boxed exception to a service's freeze (two others approve)",
  help: `Usage: quench override request SERVICE --reason TEXT --until TIME [--change ID]

Requests an override of SERVICE's freezes for change ID (or every change without --change)
until TIME (a duration from now such as 2h, or an RFC 3339 time with Z or an offset). It
takes effect once two people other than you approve it ('quench override approve ID').
Prints the override id.`,
  async run(args, io) {
    const { values, positionals } = parseOptions(args, { reason: { type: 'string' }, until: { type: 'string' }, change: { type: 'string' } }, true);
    const [service, ...rest] = positionals;
    if (!service || rest.length > 0) throw new QuenchError('usage', 'expected exactly one SERVICE');
    if (!values.reason?.trim()) throw new QuenchError('usage', '--reason TEXT is required');
    if (!values.until) throw new QuenchError('usage', '--until TIME is required (e.g. 2h)');
    const o = (await mutate(io, 'POST', '/v1/overrides', {
      service,
      reason: values.reason,
      until: values.until,
      ...(values.change ? { change: values.change } : {}),
    })) as unknown as Override;
    io.stdout(`${o.id}\nrequested: ${o.service} ${o.changeId ? `change ${o.changeId}` : 'every change'} until ${o.until}; needs two approvers\n`);
    return 0;
  },
};

export const overrideApproveCommand: Command = {
  path: ['override', 'approve'],
  summary: 'approve an override request (not your own)',
  help: `Usage: quench override approve ID

Approves override ID as QUENCH_TOKEN's user. The requester cannot approve, and each approver
counts once: two distinct approvals put it in force.`,
  async run(args, io) {
    const { positionals } = parseOptions(args, {}, true);
    const [id, ...rest] = positionals;
    if (!id || rest.length > 0) throw new QuenchError('usage', 'expected exactly one override ID');
    const o = (await mutate(io, 'POST', `/v1/overrides/${encodeURIComponent(id)}/approve`)) as unknown as Override;
    io.stdout(`${o.id}: approved by ${o.approvers.join(', ')}${o.approvers.length >= 2 ? ` — in force until ${o.until}` : ' — needs one more approver'}\n`);
    return 0;
  },
};

export const gateCommands: Command[] = [gateCheckCommand, freezeCommand, unfreezeCommand, overrideRequestCommand, overrideApproveCommand];
