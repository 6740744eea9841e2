import { QuenchError } from '../../core/errors.js';
import type { Decision } from '../../engine/model.js';
import { withBackend } from '../backend.js';
import { type Command, parseOptions } from '../command.js';
import type { CliIO } from '../command.js';
import { tokenOf } from '../token.js';

/**
 * `--json` of `quench approve` / `quench reject` (docs/cli.md): the same fields whether the CLI
 * decided on the database or through `POST /v1/steps/:id/decision`.
 */
export type DecisionReport =
  | { status: 'decided'; stepId: string; runId: string; decision: Decision['outcome']; by: string }
  | { status: 'approval_recorded'; stepId: string; runId: string; decision: Decision['outcome']; by: string; approvals: number; required: number };

type Outcome = { status: 'decided'; runId: string } | { status: 'approval_recorded'; runId: string; approvals: number; required: number };

function report(stepId: string, decision: Decision, by: string, o: Outcome): DecisionReport {
  const base = { stepId, runId: o.runId, decision: decision.outcome, by };
  return o.status === 'approval_recorded'
    ? { status: 'approval_recorded', ...base, approvals: o.approvals, required: o.required }
    : { status: 'decided', ...base };
}

function text(r: DecisionReport): string {
  if (r.status === 'approval_recorded')
    return `approval by ${r.by} recorded (${r.approvals} of ${r.required}); step ${r.stepId} needs another approver\n`;
  return `step ${r.stepId} ${r.decision === 'reject' ? 'rejected' : 'approved'} by ${r.by}; run ${r.runId} continues\n`;
}

/** The /v1 decision body for a Decision. */
function requestBody(d: Decision): Record<string, unknown> {
  if (d.outcome === 'approve') return { decision: 'approve', ...(d.comment ? { comment: d.comment } : {}) };
  if (d.outcome === 'reject') return { decision: 'reject', reason: d.reason };
  if (d.outcome === 'choose') return { decision: 'choose', value: d.value, ...(d.comment ? { comment: d.comment } : {}) };
  return { decision: 'input', value: d.value };
}

/**
 * `quench approve` / `quench reject`: decide a human step without Slack, as the person whose API
 * token is presented: `QUENCH_TOKEN`, or the first line of standard input. On the database the
 * token is mapped to a user by QUENCH_API_TOKENS exactly as `/v1` maps a bearer token, and the
 * decision goes through the same gated `engine.decide` (assignees only, never the run's
 * starter, four-eyes), recorded with `via: cli`; beside a running service the token goes to
 * `POST /v1/steps/:id/decision`, which makes the same call. No flag names the decider: a name
 * is a claim, a token is a credential.
 */
async function decide(io: CliIO, stepId: string, decision: Decision, json: boolean): Promise<number> {
  const token = await tokenOf(io, 'quench approve STEP_ID');
  const result = await withBackend(
    io,
    async (backend): Promise<DecisionReport> => {
      if (backend.kind === 'service') {
        const body = (await backend.client.request('POST', `/v1/steps/${encodeURIComponent(stepId)}/decision`, requestBody(decision))) as Outcome & {
          by: string;
        };
        return report(stepId, decision, body.by, body);
      }
      const { ctx } = backend;
      if (!ctx.auth.configured) {
        throw new QuenchError('forbidden', 'deciding needs API tokens: set QUENCH_API_TOKENS (user=token,…), the same the service uses');
      }
      const user = ctx.auth.identify(token);
      if (!user) throw new QuenchError('unauthorized', 'unknown API token: QUENCH_TOKEN (or standard input) must hold a token of QUENCH_API_TOKENS that may decide');
      const outcome = await ctx.ports.engine.decide(stepId, decision, { type: 'user', id: user }, { via: 'cli' });
      return report(stepId, decision, user, outcome);
    },
    { token },
  );
  io.stdout(json ? `${JSON.stringify(result, null, 2)}\n` : text(result));
  return 0;
}

const asRefused = (values: { as?: string | undefined }) => {
  if (values.as !== undefined)
    throw new QuenchError(
      'usage',
      '--as is not accepted: the decider is the owner of the API token in QUENCH_TOKEN (or on standard input), not a name given on the command line',
    );
};

export const approveCommand: Command = {
  path: ['approve'],
  summary: 'approve a waiting human step, as the owner of QUENCH_TOKEN',
  help: `Usage: quench approve STEP_ID [--choice VALUE | --input TEXT] [--comment TEXT] [--json]

Approves a human step waiting for a decision ('quench runs show RUN_ID' lists step ids).
For choice steps pass --choice, for input steps --input; on a risk: high step the second
approver must give the same value. You decide as the user of your API token: set QUENCH_TOKEN,
or pipe the token on standard input. The token must be one of QUENCH_API_TOKENS.
Beside a running 'quench serve' on the embedded database (or with QUENCH_URL set) the decision
goes through the service's /v1 API.
  --json  {"status":"decided"|"approval_recorded","stepId","runId","decision","by"[,"approvals","required"]}
Exit 1 when refused (no or unknown token, not an assignee, own run, already approved or
decided, a different answer than the first approver's); the refusal is audited.`,
  async run(args, io) {
    const { values, positionals } = parseOptions(
      args,
      { as: { type: 'string' }, choice: { type: 'string' }, input: { type: 'string' }, comment: { type: 'string' }, json: { type: 'boolean' } },
      true,
    );
    asRefused(values);
    const [stepId, ...rest] = positionals;
    if (!stepId || rest.length) throw new QuenchError('usage', 'expected exactly one STEP_ID');
    if (values.choice !== undefined && values.input !== undefined) throw new QuenchError('usage', 'pass --choice or --input, not both');
    const decision: Decision =
      values.choice !== undefined
        ? { outcome: 'choose', value: values.choice, ...(values.comment ? { comment: values.comment } : {}) }
        : values.input !== undefined
          ? { outcome: 'input', value: values.input }
          : { outcome: 'approve', ...(values.comment ? { comment: values.comment } : {}) };
    return decide(io, stepId, decision, values.json ?? false);
  },
};

export const rejectCommand: Command = {
  path: ['reject'],
  summary: 'reject a waiting human step with a reason, as the owner of QUENCH_TOKEN',
  help: `Usage: quench reject STEP_ID --reason TEXT [--json]

Rejects a human step: it fails, and its fallback or onFailure applies (by default the run is
compensated). You decide as the user of your API token: set QUENCH_TOKEN, or pipe the token on
standard input. Beside a running service it goes through the /v1 API, like approve.
  --json  {"status":"decided","stepId","runId","decision":"reject","by"}
Exit 1 when refused; the refusal is audited.`,
  async run(args, io) {
    const { values, positionals } = parseOptions(args, { as: { type: 'string' }, reason: { type: 'string' }, json: { type: 'boolean' } }, true);
    asRefused(values);
    const [stepId, ...rest] = positionals;
    if (!stepId || rest.length) throw new QuenchError('usage', 'expected exactly one STEP_ID');
    if (!values.reason?.trim()) throw new QuenchError('usage', '--reason TEXT is required');
    return decide(io, stepId, { outcome: 'reject', reason: values.reason }, values.json ?? false);
  },
};
