import { stringify } from 'yaml';
import type { CliIO, Command } from '../cli/command.js';
import { cliConfig, parseOptions } from '../cli/command.js';
import { systemClock } from '../core/clock.js';
import { QuenchError } from '../core/errors.js';
import { formatProblem } from '../definitions/problem.js';
import { silentLogger } from '../telemetry/logger.js';
import { rulesFile } from './core/rules.js';
import type { SloStatus } from './core/status.js';
import { loadSlos } from './definitions.js';
import { SloEvaluator } from './evaluator.js';
import { dataSourceSources } from './sources/datasources.js';
import { PrometheusClient } from './sources/prometheus-client.js';
import { prometheusSource } from './sources/prometheus.js';
import { syntheticSource } from './sources/synthetic.js';
import { formatFreezes, formatStatusTable } from './status-table.js';

function load(io: CliIO) {
  const config = cliConfig(io);
  const { slos, problems } = loadSlos([config.QUENCH_SLO_DIR]);
  const errors = problems.filter((p) => p.severity === 'error');
  if (errors.length > 0)
    throw new QuenchError('validation_failed', `invalid SLO definitions (run 'quench validate'):\n${errors.map(formatProblem).join('\n')}`);
  return { config, slos };
}

/** QUENCH_URL when set, else the local service on PORT; QUENCH_TOKEN, else the first of QUENCH_API_TOKENS. */
function serviceTarget(io: CliIO): { base: string; token: string | undefined } {
  const config = cliConfig(io);
  const base = io.env.QUENCH_URL?.trim() ? config.QUENCH_URL.replace(/\/+$/, '') : `http://127.0.0.1:${config.PORT}`;
  return { base, token: config.QUENCH_TOKEN ?? [...config.QUENCH_API_TOKENS.values()][0] };
}

/** The running service's statuses, when one listens on PORT locally; undefined otherwise. */
async function fromService(io: CliIO): Promise<SloStatus[] | undefined> {
  const { base, token } = serviceTarget(io);
  try {
    const res = await fetch(`${base}/v1/slos`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(1500),
    });
    if (!res.ok) return undefined;
    const body = (await res.json()) as { slos?: SloStatus[] };
    return Array.isArray(body.slos) ? body.slos : undefined;
  } catch {
    return undefined;
  }
}

/** Open deploy freezes of the running service (src/gate), shown under the table; [] when none answers. */
async function freezesFromService(io: CliIO): Promise<Array<Record<string, unknown>>> {
  const { base, token } = serviceTarget(io);
  try {
    const res = await fetch(`${base}/v1/freezes`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(1500),
    });
    const body = res.ok ? ((await res.json()) as { freezes?: Array<Record<string, unknown>> }) : {};
    return Array.isArray(body.freezes) ? body.freezes : [];
  } catch {
    return [];
  }
}

async function evaluateLocally(io: CliIO): Promise<SloStatus[]> {
  const { config, slos } = load(io);
  const client = config.PROMETHEUS_URL
    ? new PrometheusClient({ baseUrl: config.PROMETHEUS_URL, timeoutMs: config.QUENCH_SLO_TIMEOUT_SECONDS * 1000 })
    : undefined;
  const evaluator = new SloEvaluator({
    slos,
    sources: {
      synthetic: syntheticSource(systemClock.now()),
      ...(client ? { prometheus: prometheusSource(client) } : {}),
      forDataSource: dataSourceSources({ timeoutMs: config.QUENCH_SLO_TIMEOUT_SECONDS * 1000 }),
    },
    clock: systemClock,
    logger: silentLogger,
    concurrency: config.QUENCH_SLO_CONCURRENCY,
    timeoutMs: config.QUENCH_SLO_TIMEOUT_SECONDS * 1000,
  });
  await evaluator.evaluateAll();
  return evaluator.list();
}

export const sloStatusCommand: Command = {
  path: ['slo', 'status'],
  summary: 'each SLO: attainment, budget remaining, burn rate per window, alert state',
  help: `Usage: quench slo status [--json] [--local]

Shows every SLO: objective, window, attainment, error budget remaining, burn rate per alert
window, time to exhaustion and the page/ticket alert states.
When 'quench serve' answers at QUENCH_URL (default: PORT on this machine; QUENCH_TOKEN when it
has API tokens), its live statuses are shown (alert states
included); otherwise (or with --local) the SLOs in QUENCH_SLO_DIR are evaluated once now,
against PROMETHEUS_URL and the synthetic source, with alert states as of this single evaluation.
  --json   machine-readable: {"slos": [...]} with ratios in 0..1 and null for "no data"
  --local  never ask the running service
Exit 0; 1 when the SLO files are invalid.`,
  async run(args, io) {
    const { values } = parseOptions(args, { json: { type: 'boolean' }, local: { type: 'boolean' } });
    const live = values.local ? undefined : await fromService(io);
    const statuses = live ?? (await evaluateLocally(io));
    const freezes = live ? await freezesFromService(io) : [];
    if (values.json) io.stdout(`${JSON.stringify({ source: live ? 'service' : 'local', slos: statuses, ...(live ? { freezes } : {}) }, null, 2)}\n`);
    else {
      io.stdout(formatStatusTable(statuses));
      if (live) io.stdout(formatFreezes(freezes));
      if (!live) io.stderr('(evaluated now by the CLI; run `quench serve` for alert states over time)\n');
    }
    return 0;
  },
};

export const sloRulesCommand: Command = {
  path: ['slo', 'rules'],
  summary: 'print Prometheus recording and alerting rules for the SLOs (Sloth-compatible names)',
  help: `Usage: quench slo rules

Prints a Prometheus rule file for the Prometheus-based SLOs in QUENCH_SLO_DIR: recording rules
slo:sli_error:ratio_rate<window> (Sloth's names and labels: sloth_id <service>-<slo>,
sloth_service, sloth_slo, sloth_window and the SLO's labels, so Sloth dashboards work), the meta
rules (slo:objective:ratio, slo:current_burn_rate:ratio, slo:period_error_budget_remaining:ratio,
sloth_slo_info, …) and one
multi-window, multi-burn-rate alert per SLO and severity, equivalent to Quench's own evaluation.
Check it with 'promtool check rules'. Synthetic SLOs are skipped (listed on stderr).`,
  async run(args, io) {
    parseOptions(args, {});
    const { slos } = load(io);
    const { groups, skipped } = rulesFile(slos);
    io.stdout(`# Generated by 'quench slo rules' from ${slos.length} SLO(s). Do not edit: regenerate.\n`);
    io.stdout(stringify({ groups }, { lineWidth: 0 }));
    if (skipped.length > 0) io.stderr(`skipped (not evaluated from Prometheus): ${skipped.join(', ')}\n`);
    return 0;
  },
};
