import { QuenchError } from '../../core/errors.js';
import type { Decision } from '../../engine/model.js';
import { type Command, parseOptions, withContext } from '../command.js';
import type { CliIO } from '../command.js';

/**
 * `quench approve` / `quench reject`: decide a human step without Slack, as the person whose API
 * token is presented: `QUENCH_TOKEN`, or the first line of standard input. The token is mapped to
 * a user by QUENCH_API_TOKENS exactly as `/v1` maps a bearer token, and the decision goes through
 * the same gated `engine.decide` (assignees only, never the run's starter, four-eyes), recorded
 * with `via: cli`. No flag names the decider: a name is a claim, a token is a credential.
 */
async function decide(io: CliIO, stepId: string, decision: Decision): Promise<number> {
  const token = await tokenOf(io);
  return withContext(io, async (ctx) => {
    if (!ctx.auth.configured) {
      throw new QuenchError('forbidden', 'deciding needs API tokens: set QUENCH_API_TOKENS (user=token,…), the same the service uses');
    }
    const user = ctx.auth.identify(token);
    if (!user) throw new QuenchError('unauthorized', 'unknown API token: QUENCH_TOKEN (or standard input) must hold a token of QUENCH_API_TOKENS that may decide');
    const outcome = await ctx.ports.engine.decide(stepId, decision, { type: 'user', id: user }, { via: 'cli' });
    if (outcome.status === 'approval_recorded')
      io.stdout(`approval by ${user} recorded (${outcome.approvals} of ${outcome.required}); step ${stepId} needs another approver\n`);
    else
      io.stdout(`step ${stepId} ${decision.outcome === 'reject' ? 'rejected' : 'approved'} by ${user}; run ${outcome.runId} continues\n`);
    return 0;
  });
}

/** The decider's token: QUENCH_TOKEN, else the first line piped on standard input. */
async function tokenOf(io: CliIO): Promise<string> {
  const fromEnv = io.env.QUENCH_TOKEN?.trim();
  if (fromEnv) return fromEnv;
  const piped = (await io.stdin?.())?.split(/\r?\n/, 1)[0]?.trim();
  if (piped) return piped;
  throw new QuenchError(
    'unauthorized',
    'no API token: set QUENCH_TOKEN to your token from QUENCH_API_TOKENS, or pipe it on standard input (printf %s "$TOKEN" | quench approve STEP_ID)',
  );
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
  help: `Usage: quench approve STEP_ID [--choice VALUE | --input TEXT] [--comment TEXT]

Approves a human step waiting for a decision ('quench runs show RUN_ID' lists step ids).
For choice steps pass --choice, for input steps --input; on a risk: high step the second
approver must give the same value. You decide as the user of your API token: set QUENCH_TOKEN,
or pipe the token on standard input. The token must be one of QUENCH_API_TOKENS.
Exit 1 when refused (no or unknown token, not an assignee, own run, already approved or
decided, a different answer than the first approver's); the refusal is audited.`,
  async run(args, io) {
    const { values, positionals } = parseOptions(
      args,
      { as: { type: 'string' }, choice: { type: 'string' }, input: { type: 'string' }, comment: { type: 'string' } },
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
    return decide(io, stepId, decision);
  },
};

export const rejectCommand: Command = {
  path: ['reject'],
  summary: 'reject a waiting human step with a reason, as the owner of QUENCH_TOKEN',
  help: `Usage: quench reject STEP_ID --reason TEXT

Rejects a human step: it fails, and its fallback or onFailure applies (by default the run is
compensated). You decide as the user of your API token: set QUENCH_TOKEN, or pipe the token on
standard input. Exit 1 when refused; the refusal is audited.`,
  async run(args, io) {
    const { values, positionals } = parseOptions(args, { as: { type: 'string' }, reason: { type: 'string' } }, true);
    asRefused(values);
    const [stepId, ...rest] = positionals;
    if (!stepId || rest.length) throw new QuenchError('usage', 'expected exactly one STEP_ID');
    if (!values.reason?.trim()) throw new QuenchError('usage', '--reason TEXT is required');
    return decide(io, stepId, { outcome: 'reject', reason: values.reason });
  },
};
