import { QuenchError } from '../core/errors.js';
import { ApiTokens } from './api-tokens.js';
import { type Env, envSchema, secretVariables } from './schema.js';

export type Config = Env;

/**
 * Parses the environment. On failure the error lists every bad variable with what is
 * expected, and never the value itself (it may be a secret).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const result = envSchema.safeParse(env);
  const lines = result.success
    ? crossChecks(result.data)
    : result.error.issues.map((issue) => {
        const variable = String(issue.path[0] ?? '(environment)');
        return `  ${variable}: ${issue.message}`;
      });
  if (result.success && lines.length === 0) return result.data;
  throw new QuenchError('config_invalid', `invalid configuration:\n${lines.join('\n')}`);
}

/** Rules that span variables: settings that would silently leave something open. */
function crossChecks(config: Config): string[] {
  const problems: string[] = [];
  // Half a basic-auth pair used to leave /webhooks/alertmanager open without a word.
  if ((config.QUENCH_ALERTMANAGER_USERNAME === undefined) !== (config.QUENCH_ALERTMANAGER_PASSWORD === undefined)) {
    const missing = config.QUENCH_ALERTMANAGER_USERNAME === undefined ? 'QUENCH_ALERTMANAGER_USERNAME' : 'QUENCH_ALERTMANAGER_PASSWORD';
    problems.push(`  ${missing}: set both QUENCH_ALERTMANAGER_USERNAME and QUENCH_ALERTMANAGER_PASSWORD, or neither`);
  }
  problems.push(...slackProblems(config));
  return problems;
}

/**
 * Slack needs a bot token plus a way to receive requests: the signing secret (HTTP mode) or an
 * app-level token (Socket Mode). Half of it used to leave Slack silently off.
 */
function slackProblems(config: Config): string[] {
  const bot = config.SLACK_BOT_TOKEN !== undefined;
  const secret = config.SLACK_SIGNING_SECRET !== undefined;
  const app = config.SLACK_APP_TOKEN !== undefined;
  if (!bot && (secret || app)) {
    const set = [secret && 'SLACK_SIGNING_SECRET', app && 'SLACK_APP_TOKEN'].filter(Boolean).join(' and ');
    return [`  SLACK_BOT_TOKEN: missing: ${set} is set, so Slack needs the bot token (xoxb-…, OAuth & Permissions), or unset ${set} to run without Slack`];
  }
  if (bot && !secret && !app)
    return ['  SLACK_SIGNING_SECRET: missing: SLACK_BOT_TOKEN is set, so Slack needs SLACK_SIGNING_SECRET (HTTP mode, Basic Information → App Credentials) or SLACK_APP_TOKEN (Socket Mode, xapp-…)'];
  if (bot && !config.SLACK_BOT_TOKEN!.startsWith('xoxb-')) return ['  SLACK_BOT_TOKEN: expected a bot token starting with xoxb-'];
  if (app && !config.SLACK_APP_TOKEN!.startsWith('xapp-')) return ['  SLACK_APP_TOKEN: expected an app-level token starting with xapp-'];
  return [];
}

/** A copy safe to log: secrets masked, maps flattened to their keys. */
export function describeConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (value === undefined) continue;
    if (value instanceof ApiTokens) out[key] = [...[...value.keys()].map((k) => `${k}=***`), ...[...value.readOnly.keys()].map((k) => `${k}:read=***`)];
    else if (value instanceof Map) out[key] = [...value.keys()].map((k) => `${k}=***`);
    else if (secretVariables.has(key as keyof Config)) out[key] = '***';
    else out[key] = value;
  }
  return out;
}
