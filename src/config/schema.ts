import { existsSync, readFileSync } from 'node:fs';
import cron from 'node-cron';
import { z } from 'zod';
import { parseDuration } from '../slo/core/duration.js';
import { type ApprovalPolicy, approvalPolicySchema, defaultApprovalPolicy } from '../chat/core/auto-approval.js';
import { apiTokensSchema } from './api-tokens.js';

/**
 * Every environment variable Quench reads, in one schema (../../README.md#configuration lists
 * them for users). Parsed once at start-up; an invalid configuration stops the process before
 * it listens.
 */

const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const optionalString = z.preprocess(emptyToUndefined, z.string().optional());

/** A cron expression (node-cron syntax; a 6-field expression adds seconds). */
const cronExpression = (fallback: string, example: string) =>
  z.preprocess((v) => emptyToUndefined(v) ?? fallback, z.string().refine((v) => cron.validate(v), { message: `expected a cron expression such as ${example}` }));

/** JSON object merged over the default approval policy; parsed here so a typo stops start-up, naming the field. */
const approvalPolicyJson = optionalString.transform((raw, ctx): ApprovalPolicy | undefined => {
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'expected a JSON object such as {"sampleShare":0.2} (see docs/slack.md, Confidence × impact)' });
    return z.NEVER;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    ctx.addIssue({ code: 'custom', message: 'expected a JSON object such as {"sampleShare":0.2}' });
    return z.NEVER;
  }
  const parsed = approvalPolicySchema.safeParse({ ...defaultApprovalPolicy, ...value });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: `${issue.path.join('.') || '(policy)'}: ${issue.message}` });
    return z.NEVER;
  }
  return parsed.data;
});

const httpUrl = (what: string) =>
  z.preprocess(
    emptyToUndefined,
    z
      .string()
      .refine((v) => /^https?:\/\//.test(v) && URL.canParse(v), { message: `expected an http(s) URL for ${what}` })
      .transform((v) => v.replace(/\/+$/, ''))
      .optional(),
  );

const postgresUrl = z.preprocess(
  emptyToUndefined,
  z
    .string()
    .refine((v) => /^postgres(ql)?:\/\//.test(v) && URL.canParse(v), {
      message: 'expected postgres://user[:password]@host[:port]/database (or postgresql://…)',
    })
    .optional(),
);

const port = z.preprocess(
  (v) => emptyToUndefined(v) ?? '3000',
  z
    .string()
    .regex(/^\d+$/, 'expected a whole number from 0 to 65535')
    .transform(Number)
    .pipe(z.number().int().min(0, 'expected 0..65535').max(65535, 'expected 0..65535')),
);

/** `name=value,name=value`, or a path to a file holding such pairs (one per line or comma-separated). */
function pairList(what: string, left: string, right: string) {
  return z.preprocess(emptyToUndefined, z.string().optional()).transform((raw, ctx) => {
    const pairs = new Map<string, string>();
    if (raw === undefined) return pairs;
    let text = raw;
    if (!raw.includes('=') && existsSync(raw)) text = readFileSync(raw, 'utf8');
    for (const item of text.split(/[,\n]/).map((s) => s.trim())) {
      if (item === '' || item.startsWith('#')) continue;
      const eq = item.indexOf('=');
      const key = item.slice(0, eq).trim();
      const value = item.slice(eq + 1).trim();
      if (eq <= 0 || value === '') {
        // Never echo the item: it may hold a secret.
        ctx.addIssue({ code: 'custom', message: `expected ${left}=${right} pairs separated by commas (${what})` });
        return z.NEVER;
      }
      pairs.set(key, value);
    }
    return pairs;
  });
}

const logLevel = z.preprocess((v) => emptyToUndefined(v) ?? 'info', z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']));

const positiveInt = (fallback: number) =>
  z.preprocess(
    (v) => emptyToUndefined(v) ?? String(fallback),
    z.string().regex(/^\d+$/, 'expected a whole number').transform(Number).pipe(z.number().int().positive()),
  );

const csv = z.preprocess(emptyToUndefined, z.string().optional()).transform((v) =>
  v === undefined
    ? []
    : v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
);

export const envSchema = z.object({
  PORT: port,
  /** Address to listen on; unset → every interface with QUENCH_API_TOKENS, 127.0.0.1 without (src/service.ts). */
  QUENCH_LISTEN_HOST: optionalString,
  DATABASE_URL: postgresUrl,
  DATABASE_POOL_MAX: positiveInt(10),
  /** `false` for poolers in transaction mode without prepared statement support (src/db/prepared.ts). */
  DATABASE_PREPARE: z.preprocess((v) => emptyToUndefined(v) ?? 'true', z.enum(['true', 'false'])).transform((v) => v === 'true'),
  /** The schema owner's connection: migrations run as it, the service as DATABASE_URL (docs/database-roles.md). */
  QUENCH_MIGRATION_DATABASE_URL: postgresUrl,
  /** Makes the audit chain HMAC-SHA256 with this key; unset → plain SHA-256 links (docs/database-roles.md). */
  QUENCH_AUDIT_KEY: z.preprocess(emptyToUndefined, z.string().min(32, 'expected at least 32 characters (e.g. `openssl rand -hex 32`)').optional()),
  QUENCH_DATA_DIR: z.preprocess((v) => emptyToUndefined(v) ?? './.quench', z.string()),
  QUENCH_SLO_DIR: z.preprocess((v) => emptyToUndefined(v) ?? './slo', z.string()),
  QUENCH_PLAYBOOK_DIR: z.preprocess((v) => emptyToUndefined(v) ?? './playbooks', z.string()),
  /** Drill scenarios (`kind: DrillScenario`, docs/drills.md). */
  QUENCH_DRILL_DIR: z.preprocess((v) => emptyToUndefined(v) ?? './drills', z.string()),
  PROMETHEUS_URL: httpUrl('PROMETHEUS_URL'),
  /** When the SLO evaluator runs (node-cron syntax; a 6-field expression adds seconds). */
  QUENCH_SLO_EVAL_CRON: z.preprocess(
    (v) => emptyToUndefined(v) ?? '* * * * *',
    z.string().refine((v) => cron.validate(v), { message: 'expected a cron expression such as "* * * * *" (every minute)' }),
  ),
  /** SLOs evaluated at once (each is one Prometheus query). */
  QUENCH_SLO_CONCURRENCY: positiveInt(16),
  /** Seconds one SLO's evaluation may take before it fails for this cycle (others go on). */
  QUENCH_SLO_TIMEOUT_SECONDS: positiveInt(30),
  /**
   * Where SLO windows of a day or more come from (docs/slo.md "Long windows"): `stored` sums
   * Quench's own stored window counts (slo_samples) and reads only stretches without rows raw;
   * `raw` reads every window from Prometheus every cycle.
   */
  QUENCH_SLO_LONG_WINDOWS: z.preprocess(
    (v) => emptyToUndefined(v) ?? 'stored',
    z.enum(['raw', 'stored'], { message: 'expected raw or stored' }),
  ),
  SLACK_BOT_TOKEN: optionalString,
  SLACK_SIGNING_SECRET: optionalString,
  SLACK_APP_TOKEN: optionalString,
  SLACK_API_URL: httpUrl('SLACK_API_URL'),
  PAGERDUTY_TOKEN: optionalString,
  PAGERDUTY_ROUTING_KEY: optionalString,
  /** Events API v2 key drills page through (a test service); unset → PagerDuty calls in drills are simulated. */
  QUENCH_PAGERDUTY_DRILL_ROUTING_KEY: optionalString,
  PAGERDUTY_WEBHOOK_SECRET: optionalString,
  PAGERDUTY_API_URL: httpUrl('PAGERDUTY_API_URL'),
  PAGERDUTY_EVENTS_URL: httpUrl('PAGERDUTY_EVENTS_URL'),
  /** Email of the PagerDuty user that `pagerduty.note` writes as (REST `From` header). */
  PAGERDUTY_FROM_EMAIL: optionalString,
  /** Channel for incident threads when a playbook names none (label `slack-channel`). */
  QUENCH_SLACK_CHANNEL: optionalString,
  /** `true`: a new Slack channel per run instead of a thread in the playbook's channel. */
  QUENCH_SLACK_CHANNEL_PER_RUN: z
    .preprocess((v) => emptyToUndefined(v) ?? 'false', z.enum(['true', 'false']))
    .transform((v) => v === 'true'),
  /** JSON: the confidence × impact grid and the sampled share of auto-approvals (docs/slack.md); unset: the default policy. */
  QUENCH_APPROVAL_POLICY: approvalPolicyJson,
  QUENCH_WEBHOOK_SECRETS: pairList('QUENCH_WEBHOOK_SECRETS', 'source', 'secret'),
  QUENCH_WEBHOOK_MAX_BYTES: positiveInt(1024 * 1024),
  /** Alertmanager http_config credentials; unset → /webhooks/alertmanager is open (docs/webhooks.md). */
  QUENCH_ALERTMANAGER_TOKEN: optionalString,
  QUENCH_ALERTMANAGER_USERNAME: optionalString,
  QUENCH_ALERTMANAGER_PASSWORD: optionalString,
  /** Per-source webhook rate limit (token bucket): sustained requests per second and burst. */
  QUENCH_WEBHOOK_RATE_LIMIT: positiveInt(200),
  QUENCH_WEBHOOK_RATE_BURST: positiveInt(400),
  /** Failed webhook authentications per client address (IPv6: per /64): refills per second, and burst. */
  QUENCH_WEBHOOK_AUTH_FAILURE_RATE: positiveInt(1),
  QUENCH_WEBHOOK_AUTH_FAILURE_BURST: positiveInt(20),
  /** How long processed and dead inbox bodies are kept (`14d`, `36h`); the dedup keys stay (src/ingest/retention.ts). */
  QUENCH_INBOX_RETENTION: z.preprocess(
    (v) => emptyToUndefined(v) ?? '14d',
    z
      .string()
      .transform((v) => parseDuration(v))
      .refine((ms) => ms !== undefined && ms >= 3_600_000, { message: 'expected a duration of at least 1h, such as 14d or 36h' })
      .transform((ms) => ms!),
  ),
  /**
   * `off`: this replica only accepts webhooks into the inbox (an intake replica); replicas with
   * `on` process them. Keeps intake fast and steady during an alert storm (docs/webhooks.md).
   */
  QUENCH_INGEST_WORKER: z
    .preprocess((v) => emptyToUndefined(v) ?? 'on', z.enum(['on', 'off'], { message: 'expected on or off' }))
    .transform((v) => v === 'on'),
  /** How long an inbox entry's claim lasts before another worker may take it over (a worker died). */
  QUENCH_INGEST_LEASE_SECONDS: positiveInt(60),
  /** `user=token` (full access) or `user:read=token` (read-only), ≥ 32 characters each, all distinct (./api-tokens.ts). */
  QUENCH_API_TOKENS: apiTokensSchema,
  /** When the weekly SLO report is posted (node-cron syntax, in TZ). */
  QUENCH_REPORT_CRON: cronExpression('0 9 * * 1', '"0 9 * * 1" (Mondays at 09:00)'),
  QUENCH_REPORT_CHANNEL: optionalString,
  QUENCH_HTTP_ALLOWLIST: csv,
  QUENCH_EXEC_ALLOWLIST: csv,
  /** Environment variables playbook templates may read as env.NAME (./template-env.ts); empty: none. */
  QUENCH_TEMPLATE_ENV: csv.pipe(
    z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected environment variable names separated by commas (REGION,CLUSTER)')),
  ),
  /** Engine: a claimed step's lease; a dead worker's step is taken over this long after its last heartbeat. */
  QUENCH_ENGINE_LEASE_MS: positiveInt(30_000),
  /** Engine: steps one process runs at once. */
  QUENCH_ENGINE_CONCURRENCY: positiveInt(8),
  /** Environment names an `exec` step may set (`NAME` or `PREFIX_*`); PATH, LD_*, NODE_OPTIONS… never. */
  QUENCH_EXEC_ENV_ALLOWLIST: csv,
  /** Engine: backstop poll for due timers and expired leases (NOTIFY wakes workers sooner). */
  QUENCH_ENGINE_POLL_MS: positiveInt(1_000),
  /** Where the CLI finds a running service (`quench gate check`, `quench freeze`), and the token it presents. */
  QUENCH_URL: z.preprocess((v) => emptyToUndefined(v) ?? 'http://localhost:3000', httpUrl('QUENCH_URL')).pipe(z.string()),
  QUENCH_TOKEN: optionalString,
  /** Replicas on one PostgreSQL elect one SLO evaluator; a dead leader is replaced within this lease. */
  QUENCH_LEADER_LEASE_MS: positiveInt(15_000),
  TZ: optionalString,
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl('OTEL_EXPORTER_OTLP_ENDPOINT'),
  LOG_LEVEL: logLevel,
});

export type Env = z.infer<typeof envSchema>;

/** Variables whose values must never be printed. */
export const secretVariables = new Set<keyof Env>([
  'DATABASE_URL',
  'QUENCH_MIGRATION_DATABASE_URL',
  'QUENCH_AUDIT_KEY',
  'SLACK_BOT_TOKEN',
  'SLACK_SIGNING_SECRET',
  'SLACK_APP_TOKEN',
  'PAGERDUTY_TOKEN',
  'PAGERDUTY_ROUTING_KEY',
  'QUENCH_PAGERDUTY_DRILL_ROUTING_KEY',
  'PAGERDUTY_WEBHOOK_SECRET',
  'QUENCH_WEBHOOK_SECRETS',
  'QUENCH_ALERTMANAGER_TOKEN',
  'QUENCH_ALERTMANAGER_PASSWORD',
  'QUENCH_API_TOKENS',
  'QUENCH_TOKEN',
]);
