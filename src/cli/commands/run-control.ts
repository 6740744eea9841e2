import { QuenchError } from '../../core/errors.js';
import { knownActions } from '../../playbooks/catalog.js';
import { loadPlaybooksStrict } from '../../playbooks/loader.js';
import { PlaybookStore } from '../../playbooks/store.js';
import { parseInputArgs } from '../../runs/core/cli-inputs.js';
import { type StartedRun, startPersonRun } from '../../runs/start.js';
import { type Backend, withBackend } from '../backend.js';
import { type CliIO, type Command, parseOptions } from '../command.js';
import { tokenOf } from '../token.js';

/**
 * `quench runs start`, `quench runs cancel`, `quench drill`: a person starts or cancels a run.
 * The person is the owner of the API token (QUENCH_TOKEN or the first line of standard input),
 * exactly as for approve/reject: beside a running service the token goes to `POST /v1/runs`
 * (or `/cancel`); on the database it is mapped by QUENCH_API_TOKENS and the same functions run.
 */
function userOf(backend: Extract<Backend, { kind: 'database' }>, token: string): string {
  if (!backend.ctx.auth.configured) throw new QuenchError('forbidden', 'starting or cancelling runs needs API tokens: set QUENCH_API_TOKENS (user=token,…), the same the service uses');
  const user = backend.ctx.auth.identify(token);
  if (!user) throw new QuenchError('unauthorized', 'unknown API token: QUENCH_TOKEN (or standard input) must hold a full-access token of QUENCH_API_TOKENS');
  return user;
}

/** The playbook's declared inputs, to type `--input` values (database: the folder; service: as given, strings). */
function playbookStore(backend: Extract<Backend, { kind: 'database' }>): PlaybookStore {
  return new PlaybookStore(loadPlaybooksStrict([backend.ctx.config.QUENCH_PLAYBOOK_DIR], knownActions()));
}

async function start(io: CliIO, playbook: string, inputPairs: string[], drill: { fail?: string[] } | undefined, json: boolean): Promise<number> {
  const token = await tokenOf(io, 'quench runs start PLAYBOOK');
  const run = await withBackend(
    io,
    async (backend): Promise<StartedRun> => {
      if (backend.kind === 'database') {
        const store = playbookStore(backend);
        const parsed = parseInputArgs(inputPairs, store.current(playbook)?.definition.inputs ?? {});
        if (!parsed.ok) throw new QuenchError('usage', parsed.problem);
        return startPersonRun(backend.ctx.ports.engine, store, { playbook, inputs: parsed.inputs, user: userOf(backend, token), via: 'cli', ...(drill ? { drill } : {}) });
      }
      // The service knows the declared types; JSON-looking values go as JSON, the rest as strings.
      const parsed = parseInputArgs(inputPairs, {});
      if (!parsed.ok) throw new QuenchError('usage', parsed.problem);
      const inputs = Object.fromEntries(Object.entries(parsed.inputs).map(([k, v]) => [k, jsonish(v as string)]));
      return (await backend.client.request('POST', '/v1/runs', { playbook, inputs, ...(drill ? { drill } : {}) })) as StartedRun;
    },
    { token },
  );
  io.stdout(
    json
      ? `${JSON.stringify(run, null, 2)}\n`
      : `${run.drill ? 'DRILL ' : ''}run ${run.runId} of ${run.playbook} started by ${run.startedBy.replace(/^user:/, '')} (${run.state}); follow it with: quench runs show ${run.runId}\n`,
  );
  return 0;
}

/** Over HTTP the CLI does not know the declared types: numbers, booleans and JSON go as such. */
function jsonish(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

export const runsStartCommand: Command = {
  path: ['runs', 'start'],
  summary: 'start a run of a playbook as the owner of QUENCH_TOKEN',
  help: `Usage: quench runs start PLAYBOOK [--input NAME=VALUE …] [--json]

Starts a run of the loaded playbook PLAYBOOK (the current version) with the given inputs,
checked against the playbook's declared inputs (unknown, missing or mistyped inputs are
refused). The run is started by the user of your API token (QUENCH_TOKEN, or the first line of
standard input); that person may not approve the run's human steps. Audited as run.started.`,
  async run(args, io) {
    const { values, positionals } = parseOptions(args, { input: { type: 'string', multiple: true }, json: { type: 'boolean' } }, true);
    const [playbook, ...rest] = positionals;
    if (!playbook || rest.length) throw new QuenchError('usage', 'expected exactly one PLAYBOOK (quench runs start PLAYBOOK [--input k=v …])');
    return start(io, playbook, values.input ?? [], undefined, values.json ?? false);
  },
};

/** `quench drill --scenario NAME`: armed by the running service, which evaluates the scenario until its alert fires. */
async function armScenario(io: CliIO, playbook: string, scenario: string, fail: string[], inputPairs: string[], json: boolean): Promise<number> {
  const token = await tokenOf(io, 'quench drill PLAYBOOK --scenario NAME');
  const armed = await withBackend(
    io,
    async (backend) => {
      if (backend.kind === 'database')
        throw new QuenchError('usage', 'a scenario drill runs in the service (its SLO evaluator fires the trigger): start `quench serve` and point QUENCH_URL at it');
      const parsed = parseInputArgs(inputPairs, {});
      if (!parsed.ok) throw new QuenchError('usage', parsed.problem);
      const inputs = Object.fromEntries(Object.entries(parsed.inputs).map(([k, v]) => [k, jsonish(v as string)]));
      return (await backend.client.request('POST', '/v1/runs', { playbook, inputs, drill: { scenario, ...(fail.length ? { fail } : {}) } })) as {
        id: string;
        runId?: string;
        message: string;
      };
    },
    { token },
  );
  io.stdout(json ? `${JSON.stringify(armed, null, 2)}\n` : `DRILL scenario ${scenario} armed (${armed.id})${armed.runId ? `; DRILL run ${armed.runId} of ${playbook} started` : `: ${playbook} starts as a DRILL run when the scenario's burn alert fires (quench runs list shows it)`}\n`);
  return 0;
}

export const drillCommand: Command = {
  path: ['drill'],
  summary: 'start a DRILL run of a playbook (non-drillSafe steps simulated; --fail STEP to inject a failure)',
  help: `Usage: quench drill PLAYBOOK [--fail STEP[:once|:always] …] [--scenario NAME] [--input NAME=VALUE …] [--json]

Starts a tabletop exercise: a run marked DRILL everywhere (API, CLI, Slack, audit trail) with
a synthetic 'drill' trigger. Only steps marked drillSafe run for real; every other action step
is simulated and records what it would have done, with its rendered parameters. --fail STEP
makes every attempt of that step fail (retries, fallback, compensation, escalation);
--fail STEP:once only the first (the retry succeeds). --scenario NAME arms a DrillScenario
(QUENCH_DRILL_DIR) in the running service: its synthetic SLI drives a real burn alert through
the SLO engine, which starts the playbook as a DRILL run. Human steps go to real people.
See docs/drills.md.`,
  async run(args, io) {
    const { values, positionals } = parseOptions(
      args,
      { fail: { type: 'string', multiple: true }, scenario: { type: 'string' }, input: { type: 'string', multiple: true }, json: { type: 'boolean' } },
      true,
    );
    const [playbook, ...rest] = positionals;
    if (!playbook || rest.length) throw new QuenchError('usage', 'expected exactly one PLAYBOOK (quench drill PLAYBOOK [--fail STEP[:once]] [--scenario NAME])');
    const fail = (values.fail ?? []).flatMap((f) => f.split(',')).filter(Boolean);
    if (values.scenario !== undefined) return armScenario(io, playbook, values.scenario, fail, values.input ?? [], values.json ?? false);
    return start(io, playbook, values.input ?? [], fail.length ? { fail } : {}, values.json ?? false);
  },
};

export const runsCancelCommand: Command = {
  path: ['runs', 'cancel'],
  summary: 'cancel a run (open steps cancelled, in-flight results discarded), with a reason',
  help: `Usage: quench runs cancel RUN_ID --reason TEXT [--json]

Cancels a run that has not ended: open steps are cancelled, a step in flight is fenced (its
late result is discarded), waiting human steps are closed in Slack. When the playbook says
onCancel: compensate, the completed state-changing steps are then undone (the run ends
compensated); a run already compensating is refused: its undo continues. Audited with the user of
your API token (QUENCH_TOKEN or standard input) and the reason.`,
  async run(args, io) {
    const { values, positionals } = parseOptions(args, { reason: { type: 'string' }, json: { type: 'boolean' } }, true);
    const [id, ...rest] = positionals;
    if (!id || rest.length) throw new QuenchError('usage', 'expected exactly one RUN_ID');
    const reason = values.reason?.trim();
    if (!reason) throw new QuenchError('usage', '--reason TEXT is required: say why the run is cancelled (it is audited)');
    const token = await tokenOf(io, 'quench runs cancel RUN_ID --reason TEXT');
    const result = await withBackend(
      io,
      async (backend) => {
        if (backend.kind === 'service')
          return (await backend.client.request('POST', `/v1/runs/${encodeURIComponent(id)}/cancel`, { reason })) as { runId: string; by: string; state: string };
        const user = userOf(backend, token);
        const { state } = await backend.ctx.ports.engine.cancel(id, { type: 'user', id: user }, reason);
        return { runId: id, by: user, state };
      },
      { token },
    );
    // `onCancel: compensate`: the run undoes its completed steps before it ends.
    const undoing = result.state === 'compensating' ? ' (compensating: its completed steps are being undone)' : '';
    io.stdout(values.json ? `${JSON.stringify({ ...result, reason }, null, 2)}\n` : `run ${result.runId} cancelled by ${result.by}: ${reason}${undoing}\n`);
    return 0;
  },
};
