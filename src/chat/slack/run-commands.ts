import type { App } from '@slack/bolt';
import { isQuenchError } from '../../core/errors.js';
import { parseInputArgs } from '../../runs/core/cli-inputs.js';
import { startPersonRun } from '../../runs/start.js';
import type { ChatDeps } from '../deps.js';
import { ensureThread } from '../messages.js';
import { enqueueInbox } from '../store.js';
import { addCancelListeners } from './cancel.js';
import { type SlashCommandPayload, slashCommandPayload } from './payloads.js';

/**
 * `/quench run PLAYBOOK [name=value …]`, `/quench drill …` and `/drill PLAYBOOK [fail=STEP[:once]]
 * [scenario=NAME] [name=value …]`: a person starts a run or a drill from Slack. The same
 * function as `POST /v1/runs` and `quench runs start` does the work (src/runs/start.ts), so
 * inputs are type-checked against the playbook's declarations and the starter is recorded and
 * refused as an approver of the run's human steps. Answers (and every refusal) are ephemeral.
 */
export const RUN_USAGE =
  '`/quench run PLAYBOOK [name=value …]` (start a run) · `/drill PLAYBOOK [fail=STEP[:once]] [scenario=NAME] [name=value …]` (start a DRILL run; also `/quench drill …`)';

/** Slack words: `name=value`, with double quotes around values holding spaces (`reason="two words"`). */
export function splitWords(text: string): { words: string[]; problem?: string } {
  const words: string[] = [];
  let current = '';
  let quoted = false;
  let started = false;
  // Slack sends curly quotes when the client autocorrects; treat them as plain ones.
  for (const ch of text.replace(/[“”]/g, '"')) {
    if (ch === '"') {
      quoted = !quoted;
      started = true;
    } else if (/\s/.test(ch) && !quoted) {
      if (started) words.push(current);
      current = '';
      started = false;
    } else {
      current += ch;
      started = true;
    }
  }
  if (quoted) return { words, problem: 'a double quote is not closed' };
  if (started) words.push(current);
  return { words };
}

export interface RunRequest {
  playbook: string;
  inputs: string[];
  fail: string[];
  scenario: string | undefined;
}

/** Reads the words after `run` / `drill`; `fail=` and `scenario=` are a drill's own, everything else is an input. */
export function parseRunWords(words: readonly string[], drill: boolean): { ok: true; request: RunRequest } | { ok: false; problem: string } {
  const [playbook, ...rest] = words;
  if (!playbook || playbook.includes('=')) return { ok: false, problem: 'name the playbook first' };
  const request: RunRequest = { playbook, inputs: [], fail: [], scenario: undefined };
  for (const word of rest) {
    const eq = word.indexOf('=');
    if (eq <= 0) return { ok: false, problem: `'${word}' must be name=value` };
    const name = word.slice(0, eq);
    const value = word.slice(eq + 1);
    if (drill && name === 'fail') request.fail.push(...value.split(',').filter(Boolean));
    else if (drill && name === 'scenario') {
      if (request.scenario !== undefined) return { ok: false, problem: 'scenario= is given twice' };
      request.scenario = value;
    } else request.inputs.push(word);
  }
  return { ok: true, request };
}

/** Starts the run; returns the ephemeral answer. */
export async function startFromSlack(deps: ChatDeps, cmd: SlashCommandPayload, kind: 'run' | 'drill', words: readonly string[]): Promise<string> {
  const usage = kind === 'run' ? '`/quench run PLAYBOOK [name=value …]`' : '`/drill PLAYBOOK [fail=STEP[:once]] [scenario=NAME] [name=value …]`';
  const control = deps.runs?.();
  if (!control) return 'Runs cannot be started here: the engine is not running in this service.';
  const parsed = parseRunWords(words, kind === 'drill');
  if (!parsed.ok) return `:warning: ${parsed.problem}. Usage: ${usage}`;
  const r = parsed.request;
  const declared = control.playbooks?.current(r.playbook)?.definition.inputs ?? {};
  const inputs = parseInputArgs(r.inputs, declared);
  if (!inputs.ok) return `:warning: ${inputs.problem.replace(/^--input /, '')}. Usage: ${usage}`;
  // The person as a token user would name them (their Slack profile email), so the starter rule
  // holds when they later try to approve over /v1 or the CLI; their Slack id otherwise.
  const person = await deps.people.slackUser(cmd.user_id, cmd.user_name);
  const user = person.aliases.find((a) => a.includes('@')) ?? cmd.user_id;
  try {
    if (r.scenario !== undefined && !control.startScenario) return ':warning: scenario drills need the drills capability, which is not running in this service.';
    const run = kind === 'drill' && r.scenario !== undefined && control.startScenario
      ? await control.startScenario({ playbook: r.playbook, scenario: r.scenario, fail: r.fail, inputs: inputs.inputs, user, aliases: person.aliases, via: 'slack' })
      : await startPersonRun(control.engine, control.playbooks, {
          playbook: r.playbook,
          inputs: inputs.inputs,
          user,
          aliases: person.aliases,
          via: 'slack',
          ...(kind === 'drill' ? { drill: r.fail.length ? { fail: r.fail } : {} } : {}),
        });
    if ('armed' in run) return run.message;
    // The incident thread (with its Cancel button) exists from the start for a run a person asked for.
    await ensureThread(deps, run.runId).catch((err: unknown) => deps.logger.warn({ err, runId: run.runId }, 'incident thread not posted'));
    return `${run.drill ? ':test_tube: DRILL run' : 'Run'} \`${run.runId}\` of *${r.playbook}* started by <@${cmd.user_id}> (${run.state})${r.fail.length ? `; failing on purpose: ${r.fail.join(', ')}` : ''}. Follow it in the incident thread or with \`quench runs show ${run.runId}\`.`;
  } catch (err) {
    if (isQuenchError(err)) return `:warning: ${err.message}`;
    throw err;
  }
}

/** `/quench run …` and `/quench drill …`: the words after the sub-command, quotes kept together. */
export async function runCommand(deps: ChatDeps, cmd: SlashCommandPayload, kind: 'run' | 'drill'): Promise<string> {
  const split = splitWords(cmd.text);
  if (split.problem) return `:warning: ${split.problem}. Usage: ${RUN_USAGE}`;
  return startFromSlack(deps, cmd, kind, split.words.slice(1));
}

/** `/drill …` (its own slash command) and the incident thread's Cancel button. */
export function addRunListeners(app: App, deps: ChatDeps): void {
  app.command('/drill', async ({ body, ack }) => {
    const p = slashCommandPayload.safeParse(body);
    if (!p.success) return ack({ response_type: 'ephemeral', text: 'Quench could not read this command.' });
    // The trigger id makes a Slack retry of the same command a no-op (one drill, not two).
    const seq = await enqueueInbox(deps.db, `command:${p.data.trigger_id}`, { kind: 'command', text: `drill ${p.data.text}` }, deps.clock.now());
    if (seq === undefined) return ack();
    const split = splitWords(p.data.text);
    const text = split.problem ? `:warning: ${split.problem}. Usage: ${RUN_USAGE}` : await startFromSlack(deps, p.data, 'drill', split.words);
    await ack({ response_type: 'ephemeral', text });
  });
  addCancelListeners(app, deps);
}
