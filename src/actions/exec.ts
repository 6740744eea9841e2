import { spawn } from 'node:child_process';
import { z } from 'zod';
import { NonRetriableError, StepError } from '../engine/core/step-error.js';
import { defineAction } from './action.js';
import { argvAllowed } from './allowlist.js';
import { envNameAllowed, resolveCommand, unsafeEnvName } from './exec-sandbox.js';

/**
 * `exec`: runs an allowlisted command (QUENCH_EXEC_ALLOWLIST) with an argv array, never a
 * shell, so templated arguments cannot inject commands. The command name is resolved against
 * the service's own PATH and run by absolute path; the child gets a minimal environment (no
 * Quench secrets): the service's PATH, the step's operator-allowlisted `env` names (never
 * PATH, LD_*, NODE_OPTIONS and the like: ./exec-sandbox.ts), the idempotency key and
 * correlation id. It is killed on timeout.
 */
const MAX_OUTPUT = 64 * 1024;

export const execAction = defineAction({
  name: 'exec',
  description: 'run an allowlisted command (argv, no shell) with timeout and output capture',
  changesState: true,
  params: z.strictObject({
    argv: z.array(z.string()).min(1),
    cwd: z.string().optional(),
    env: z
      .record(z.string(), z.string())
      .superRefine((env, ctx) => {
        for (const name of Object.keys(env)) {
          const why = unsafeEnvName(name);
          if (why) ctx.addIssue({ code: 'custom', path: [name], message: why });
        }
      })
      .default({}),
    stdin: z.string().optional(),
    /** Exit codes that count as success; default [0]. */
    successCodes: z.array(z.int()).default([0]),
  }),
  target: (params) => `exec:${params.argv[0]}`,
  async run(params, ctx) {
    if (!argvAllowed(params.argv, ctx.config.QUENCH_EXEC_ALLOWLIST)) {
      throw new NonRetriableError(
        'command_not_allowed',
        `exec of '${params.argv[0]}' refused: add it (or a leading part of the argv, e.g. "kubectl rollout") to QUENCH_EXEC_ALLOWLIST`,
      );
    }
    const [command, ...args] = params.argv as [string, ...string[]];
    const refusedEnv = Object.keys(params.env).filter((name) => !envNameAllowed(name, ctx.config.QUENCH_EXEC_ENV_ALLOWLIST));
    if (refusedEnv.length > 0) {
      throw new NonRetriableError(
        'env_not_allowed',
        `exec '${command}' refused: environment variable(s) ${refusedEnv.join(', ')} not in QUENCH_EXEC_ENV_ALLOWLIST (names or PREFIX_*)`,
      );
    }
    const servicePath = process.env.PATH ?? '/usr/bin:/bin';
    const resolved = resolveCommand(command, servicePath);
    if ('refused' in resolved) {
      throw new NonRetriableError(
        resolved.refused === 'relative' ? 'command_not_allowed' : 'command_not_found',
        resolved.refused === 'relative'
          ? `exec '${command}' refused: use a command name found on the service's PATH or an absolute path`
          : `exec '${command}': not found on the service's PATH (${servicePath})`,
      );
    }
    const env = {
      ...params.env,
      PATH: servicePath,
      QUENCH_IDEMPOTENCY_KEY: ctx.idempotencyKey,
      QUENCH_IDEMPOTENCY_ATTEMPT: String(ctx.attempt),
      QUENCH_CORRELATION_ID: ctx.correlationId,
    };
    return new Promise((resolve, reject) => {
      const child = spawn(resolved.path, args, {
        cwd: params.cwd,
        env,
        shell: false,
        stdio: ['pipe', 'pipe', 'pipe'],
        signal: ctx.signal,
        killSignal: 'SIGKILL',
      });
      const out = capture();
      const err = capture();
      child.stdout.on('data', out.add);
      child.stderr.on('data', err.add);
      child.stdin.on('error', () => {});
      child.stdin.end(params.stdin ?? '');
      child.on('error', (e: NodeJS.ErrnoException) => {
        if (ctx.signal.aborted)
          reject(new StepError('timeout', `exec '${command}' killed: ${String(ctx.signal.reason)}`, { retryable: true }));
        else if (e.code === 'ENOENT' || e.code === 'EACCES')
          reject(new NonRetriableError('command_not_found', `exec '${command}': ${e.message}`));
        else reject(new StepError(e.code ?? 'exec_error', `exec '${command}': ${e.message}`, { retryable: true }));
      });
      child.on('close', (code, signal) => {
        if (ctx.signal.aborted) return; // the 'error' handler reports the abort
        const output = { exitCode: code, signal, stdout: out.text(), stderr: err.text(), truncated: out.truncated() || err.truncated() };
        if (code !== null && params.successCodes.includes(code)) return resolve(output);
        const details = { exitCode: code, signal, stderr: output.stderr.slice(-2048) };
        reject(new StepError(`exit_${code ?? signal}`, `exec '${command}' exited with ${code ?? signal}`, { retryable: true, details }));
      });
    });
  },
});

function capture() {
  const chunks: Buffer[] = [];
  let size = 0;
  let cut = false;
  return {
    add: (chunk: Buffer) => {
      const room = MAX_OUTPUT - size;
      if (chunk.length > room) cut = true;
      if (room <= 0) return;
      chunks.push(chunk.subarray(0, room));
      size += Math.min(chunk.length, room);
    },
    text: () => Buffer.concat(chunks).toString('utf8'),
    truncated: () => cut,
  };
}
