import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config/load.js';
import type { ManualClock } from '../../src/core/clock.js';
import { type RunningService, startService } from '../../src/service.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { type FakePagerDuty, startFakePagerDuty } from '../support/fake-pagerduty.js';
import { type FakeSlack, type FakeSlackOptions, startFakeSlack } from '../support/fake-slack.js';
import { createPostgresDatabase, type DatabaseKind } from '../support/databases.js';
import { FORM, signedRequest, slashCommandBody } from '../support/slack-signer.js';

/**
 * One whole service on a test database, its SLO/playbook files in a temporary folder, Slack
 * (and PagerDuty when asked) faked at the HTTP boundary: the set-up the gate and report
 * integration tests share. Each test keeps only its files, tokens and extra settings.
 */

/** A synthetic-source SLO document at 99.9% over 30 days; `sli` continues the synthetic block. */
export function syntheticSlo(o: { name: string; service: string; owner?: string; sli: string; rest?: string }): string {
  return [
    'apiVersion: quench/v1',
    'kind: SLO',
    `metadata: { name: ${o.name} }`,
    `service: ${o.service}`,
    ...(o.owner === undefined ? [] : [`owner: { team: ${o.service}, slack: "${o.owner}" }`]),
    'objective: 99.9',
    'window: 30d',
    'sli:',
    '  synthetic:',
    '    requestsPerSecond: 10',
    `${o.sli.trimEnd()}\n${o.rest ?? ''}`,
  ].join('\n');
}

/** A temporary folder holding the given files (name → content). */
export function folderWith(prefix: string, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

/** The settings every harnessed service shares: SLO folder, evaluation only on demand, fake Slack (and PagerDuty). */
export function baseEnv(o: { dir: string; slack: FakeSlack; pd?: FakePagerDuty; playbooks?: boolean; tokens?: Record<string, string> }): Record<string, string> {
  return {
    QUENCH_SLO_DIR: o.dir,
    ...(o.playbooks ? { QUENCH_PLAYBOOK_DIR: o.dir } : {}),
    QUENCH_SLO_EVAL_CRON: '0 0 1 1 *',
    ...(o.tokens
      ? {
          QUENCH_API_TOKENS: Object.entries(o.tokens)
            .map(([u, t]) => `${u}=${t}`)
            .join(','),
        }
      : {}),
    SLACK_BOT_TOKEN: 'xoxb-test-token',
    SLACK_SIGNING_SECRET: 'signing-secret',
    SLACK_API_URL: o.slack.url,
    ...(o.pd ? { PAGERDUTY_ROUTING_KEY: 'R0UTINGKEY0000000000000000000000', PAGERDUTY_EVENTS_URL: o.pd.eventsUrl } : {}),
  };
}

export interface ServiceHarnessOptions {
  kind: DatabaseKind;
  /** Names the temporary folder (quench-<name>-) and the PostgreSQL database (quench_<name>). */
  name: string;
  files: Record<string, string>;
  clock: ManualClock;
  tokens?: Record<string, string>;
  playbooks?: boolean;
  pagerDuty?: boolean;
  slack?: FakeSlackOptions;
  env?: Record<string, string>;
}

export interface ServiceHarness {
  service: RunningService;
  base: string;
  dir: string;
  slack: FakeSlack;
  /** Present when started with pagerDuty: true. */
  pd: FakePagerDuty | undefined;
  stop(): Promise<void>;
}

/** Starts the service; on PostgreSQL in its own database (the service also wins the leader election alone). */
export async function startServiceHarness(o: ServiceHarnessOptions): Promise<ServiceHarness> {
  const dir = folderWith(`quench-${o.name.replaceAll('_', '-')}-`, o.files);
  const slack = await startFakeSlack(o.slack);
  const pd = o.pagerDuty ? await startFakePagerDuty() : undefined;
  let pg: { url: string; drop: () => Promise<void> } | undefined;
  let service: RunningService;
  try {
    pg = o.kind === 'postgres' ? await createPostgresDatabase(`quench_${o.name}`) : undefined;
    const config = loadConfig({
      ...(pg ? { DATABASE_URL: pg.url } : {}),
      QUENCH_DATA_DIR: 'memory://',
      ...baseEnv({ dir, slack, pd, playbooks: o.playbooks, tokens: o.tokens }),
      ...o.env,
    });
    service = await startService(config, { logger: silentLogger, clock: o.clock, port: 0, host: '127.0.0.1' });
  } catch (err) {
    // Nothing started may outlive a failed start.
    await slack.close();
    await pd?.close();
    await pg?.drop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    service,
    base: `http://127.0.0.1:${service.port}`,
    dir,
    slack,
    pd,
    async stop() {
      await service.stop();
      await slack.close();
      await pd?.close();
      await pg?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Sets the clock and runs one SLO evaluation cycle. */
export async function evaluateAt(service: RunningService, clock: ManualClock, ms: number): Promise<void> {
  clock.set(ms);
  await service.ctx.ports.slo.evaluateNow();
}

/** The audit entries with the given action. */
export async function auditOf(service: RunningService, action: string) {
  return (await service.ctx.audit.page({ limit: 1000 })).filter((e) => e.action === action);
}

/** Runs the CLI in-process with the given environment, capturing its output. */
export async function cliWith(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env });
  return { code, stdout, stderr };
}

/** Sends a signed `/quench <text>` as Slack user `user` (signed at the clock's time); expects 200 and returns the reply text. */
export async function slashCommand(base: string, clock: ManualClock, user: string, text: string): Promise<string> {
  const body = slashCommandBody({ command: '/quench', text, user_id: user, user_name: user.toLowerCase(), channel_id: 'C1', trigger_id: `t-${Math.random()}`, team_id: 'T0QUENCH' });
  const req = signedRequest('signing-secret', body, { timestamp: Math.floor(clock.now().getTime() / 1000), contentType: FORM });
  const res = await fetch(`${base}/slack/events`, { method: 'POST', headers: req.headers, body });
  expect(res.status).toBe(200);
  return ((await res.json()) as { text: string }).text;
}
