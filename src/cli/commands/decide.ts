import { QuenchError } from '../../core/errors.js';
import type { Decision } from '../../engine/model.js';
import { type Command, parseOptions, withContext } from '../command.js';
import type { CliIO } from '../command.js';

/**
 * `quench approve` / `quench reject`: decide a human step without Slack. `--as` must be a user
 * of QUENCH_API_TOKENS, the same identities `/v1` accepts, and the same rules apply
 * (nobody decides their own run's steps; four-eyes for risk: high).
 */
async function decide(io: CliIO, stepId: string, user: string, decision: Decision): Promise<number> {
  return withContext(io, async (ctx) => {
    if (!ctx.config.QUENCH_API_TOKENS.has(user)) {
      throw new QuenchError(
        'forbidden',
        `'${user}' is not an authorised user: only users named in QUENCH_API_TOKENS (user=token,…) may decide steps`,
      );
    }
    const outcome = await ctx.ports.engine.decide(stepId, decision, { type: 'user', id: user });
    if (outcome.status === 'approval_recorded')
      io.stdout(`approval by ${user} recorded (${outcome.approvals} of ${outcome.required}); step ${stepId} needs another approver\n`);
    else
      io.stdout(`step ${stepId} ${decision.outcome === 'reject' ? 'rejected' : 'approved'} by ${user}; run ${outcome.runId} continues\n`);
    return 0;
  });
}

export const approveCommand: Command = {
  path: ['approve'],
  summary: 'approve a waiting human step (authorised users only)',
  help: `Usage: quench approve STEP_ID --as USER [--choice VALUE | --input TEXT] [--comment TEXT]

Approves a human step waiting for a decision ('quench runs show RUN_ID' lists step ids).
For choice steps pass --choice, for input steps --input. USER must be named in
QUENCH_API_TOKENS. Exit 1 when refused (unknown user, own run, already decided).`,
  async run(args, io) {
    const { values, positionals } = parseOptions(
      args,
      { as: { type: 'string' }, choice: { type: 'string' }, input: { type: 'string' }, comment: { type: 'string' } },
      true,
    );
    const [stepId, ...rest] = positionals;
    if (!stepId || rest.length) throw new QuenchError('usage', 'expected exactly one STEP_ID');
    if (!values.as) throw new QuenchError('usage', '--as USER is required');
    const decision: Decision =
      values.choice !== undefined
        ? { outcome: 'choose', value: values.choice, ...(values.comment ? { comment: values.comment } : {}) }
        : values.input !== undefined
          ? { outcome: 'input', value: values.input }
          : { outcome: 'approve', ...(values.comment ? { comment: values.comment } : {}) };
    return decide(io, stepId, values.as, decision);
  },
};

export const rejectCommand: Command = {
  path: ['reject'],
  summary: 'reject a waiting human step with a reason (authorised users only)',
  help: `Usage: quench reject STEP_ID --as USER --reason TEXT

Rejects a human step: it fails, and its fallback or onFailure applies (by default the run is
compensated). USER must be named in QUENCH_API_TOKENS.`,
  async run(args, io) {
    const { values, positionals } = parseOptions(args, { as: { type: 'string' }, reason: { type: 'string' } }, true);
    const [stepId, ...rest] = positionals;
    if (!stepId || rest.length) throw new QuenchError('usage', 'expected exactly one STEP_ID');
    if (!values.as) throw new QuenchError('usage', '--as USER is required');
    if (!values.reason?.trim()) throw new QuenchError('usage', '--reason TEXT is required');
    return decide(io, stepId, values.as, { outcome: 'reject', reason: values.reason });
  },
};
