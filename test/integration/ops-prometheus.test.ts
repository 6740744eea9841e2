import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase, databaseKinds } from '../support/databases.js';
import { alertmanagerBody, signGeneric } from '../support/ingest-webhooks.js';
import { PROMETHEUS_BIN, type PrometheusProcess, prometheusAvailable, startPrometheus } from '../support/prometheus.js';
import { childEnv, freePort, repoRoot, type ServeProcess, startServe } from '../support/quench-process.js';
import { waitFor } from '../support/wait-for.js';
import { dashboardQueries, dataParts, documentedMetrics, exportedMetrics, ruleList, substitute } from '../unit/ops/queries.js';

// Issue 16 acceptance: "the dashboard's and rules' queries run against a real Prometheus
// scraping Quench". A real `quench serve` with a synthetic SLO, an SLO whose Prometheus cannot be
// reached (evaluation errors), a human step waiting, one decided, one that ran out of time (an
// SLA breach and a dead letter), refused and truncated webhooks; a real Prometheus scrapes it
// every second with deploy/prometheus/quench-alerts.yaml loaded (`for:` cut to 0s in this copy).

const SECRET = 'ops-secret';
const AM_TOKEN = 'ops-am-token';
const API_TOKEN = 'ops-alice-token-0123456789abcdefghij';

const SLOS = `apiVersion: quench/v1
kind: SLO
metadata: { name: ops-synthetic }
service: ops-demo
objective: 99.9
window: 30d
sli:
  synthetic:
    requestsPerSecond: 50
    anchor: start
    script:
      - { at: "0", errorRatio: 0.0005 }
      - { at: 1s, errorRatio: 0.5 }
---
apiVersion: quench/v1
kind: SLO
metadata: { name: ops-unreachable }
service: ops-remote
objective: 99
window: 7d
sli:
  events:
    errorQuery: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
    totalQuery: sum(rate(http_requests_total[{{window}}]))
`;

const humanPlaybook = (name: string, type: string, timeout: string) => `apiVersion: quench/v1
kind: Playbook
metadata: { name: ${name}, owner: sre }
triggers:
  - { source: "generic:ops", type: ${type} }
steps:
  - id: confirm
    kind: human
    type: approve
    prompt: "Go ahead?"
    timeout: ${timeout}
`;

// A webhook target nothing listens on: the call is retried once, then dead-lettered.
const callPlaybook = (port: number) => `apiVersion: quench/v1
kind: Playbook
metadata: { name: ops-call, owner: sre }
triggers:
  - { source: "generic:ops", type: ops.call }
steps:
  - id: call
    kind: action
    action: http.request
    params: { url: "http://127.0.0.1:${port}/hook", method: POST }
    retry: { maxAttempts: 2, initialDelay: 1s, maxDelay: 1s }
`;

if (!prometheusAvailable) console.warn(`skipping the ops dashboard/rules test: ${PROMETHEUS_BIN} not found (apt-get install prometheus)`);

describe.skipIf(!prometheusAvailable).each(databaseKinds)('dashboard and alert rules against a real Prometheus scraping quench serve (%s)', (kind) => {
  let dir: string;
  let serve: ServeProcess;
  let prometheus: PrometheusProcess;
  let drop: (() => Promise<void>) | undefined;
  let exposition = '';

  const quench = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${serve.url}${path}`, { ...init, headers: { authorization: `Bearer ${API_TOKEN}`, ...(init.headers as Record<string, string>) } });
    return { status: res.status, json: (await res.json().catch(() => undefined)) as unknown };
  };
  const generic = (id: string, type: string) => {
    const body = JSON.stringify({ id, type, summary: `${type} ${id}` });
    return fetch(`${serve.url}/webhooks/generic/ops`, { method: 'POST', headers: signGeneric(SECRET, body, Date.now() / 1000), body });
  };
  const metricsText = async () => (await fetch(`${serve.url}/metrics`)).text();
  const sample = (text: string, pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? 0);
  const promQuery = async (expr: string) => {
    const res = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    return (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: unknown[] } };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'quench-ops-prom-'));
    mkdirSync(join(dir, 'slo'));
    mkdirSync(join(dir, 'playbooks'));
    writeFileSync(join(dir, 'slo', 'ops.yaml'), SLOS);
    writeFileSync(join(dir, 'playbooks', 'wait.yaml'), humanPlaybook('ops-wait', 'ops.wait', '1h'));
    writeFileSync(join(dir, 'playbooks', 'decide.yaml'), humanPlaybook('ops-decide', 'ops.decide', '1h'));
    writeFileSync(join(dir, 'playbooks', 'expire.yaml'), humanPlaybook('ops-expire', 'ops.expire', '1s'));
    const closedPort = await freePort();
    writeFileSync(join(dir, 'playbooks', 'call.yaml'), callPlaybook(closedPort));
    const database: Record<string, string> = {};
    if (kind === 'postgres') {
      const created = await createPostgresDatabase('quench_ops_prom');
      database.DATABASE_URL = created.url;
      drop = created.drop;
    }
    serve = await startServe(
      childEnv({
        ...database,
        QUENCH_DATA_DIR: join(dir, 'data'),
        QUENCH_SLO_DIR: join(dir, 'slo'),
        QUENCH_PLAYBOOK_DIR: join(dir, 'playbooks'),
        // Nothing listens there: the Prometheus-sourced SLO fails to evaluate, as with an outage.
        PROMETHEUS_URL: `http://127.0.0.1:${await freePort()}`,
        QUENCH_HTTP_ALLOWLIST: `127.0.0.1:${closedPort}`,
        QUENCH_SLO_EVAL_CRON: '*/2 * * * * *',
        QUENCH_SLO_TIMEOUT_SECONDS: '2',
        QUENCH_WEBHOOK_SECRETS: `ops=${SECRET}`,
        QUENCH_ALERTMANAGER_TOKEN: AM_TOKEN,
        QUENCH_API_TOKENS: `alice=${API_TOKEN}`,
        QUENCH_LISTEN_HOST: '127.0.0.1',
        QUENCH_ENGINE_POLL_MS: '200',
      }),
    );

    // Scraping from before the activity, so counters are seen to increase. The rules as shipped, `for:` cut to 0s so the test need not wait minutes.
    const rules = readFileSync(join(repoRoot, 'deploy/prometheus/quench-alerts.yaml'), 'utf8').replace(/^(\s+for:) \S+$/gm, '$1 0s');
    prometheus = await startPrometheus({ targets: [`127.0.0.1:${serve.port}`], rules });

    // Activity: one human step left waiting, one decided, one left to expire; a refused and a
    // truncated webhook.
    for (const [id, type] of [
      ['w1', 'ops.wait'],
      ['d1', 'ops.decide'],
      ['e1', 'ops.expire'],
      ['c1', 'ops.call'],
    ] as const)
      expect((await generic(id, type)).status).toBe(202);
    expect((await fetch(`${serve.url}/webhooks/generic/ops`, { method: 'POST', headers: signGeneric('wrong', '{}', Date.now() / 1000), body: '{}' })).status).toBe(401);
    const truncated = JSON.parse(alertmanagerBody([{ labels: { alertname: 'OpsNoise', service: 'ops' } }], '{}:{alertname="OpsNoise"}')) as Record<string, unknown>;
    truncated.truncatedAlerts = 4;
    const am = await fetch(`${serve.url}/webhooks/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${AM_TOKEN}` },
      body: JSON.stringify(truncated),
    });
    expect(am.status).toBe(202);

    let lastDetail = '';
    const stepOf = async (playbook: string) =>
      waitFor(`a waiting human step of ${playbook}`, async () => {
        const { runs } = (await quench('/v1/runs')).json as { runs: Array<{ id: string; playbook: string }> };
        const run = runs.find((r) => r.playbook === playbook);
        if (!run) return undefined;
        const detail = (await quench(`/v1/runs/${run.id}`)).json as { steps?: Array<{ id: string; key: string; status: string }> };
        lastDetail = JSON.stringify(detail).slice(0, 3000);
        return detail.steps?.find((s) => s.key === 'confirm' && s.status === 'waiting')?.id;
      });
    // On failure, say where the step got stuck and what the service complained about.
    const complaints = () =>
      serve
        .output()
        .split('\n')
        .filter((l) => /"level":"(warn|error)"/.test(l) && !l.includes('SLO evaluation failed'))
        .join('\n')
        .slice(-5000);
    const decideStep = await stepOf('ops-decide').catch((err: Error) => {
      throw new Error(`${err.message}\n${lastDetail}\n${complaints()}`);
    });
    const decided = await quench(`/v1/steps/${decideStep}/decision`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'approve' }),
    });
    expect(decided.status).toBe(200);

    exposition = await waitFor('the activity to show in /metrics', async () => {
      const text = await metricsText();
      const ready =
        sample(text, /^quench_engine_dead_letters (\d+)/m) >= 2 &&
        sample(text, /^quench_engine_step_retries_total\{[^}]*\} (\d+)/m) >= 1 &&
        sample(text, /^quench_engine_human_steps_waiting (\d+)/m) >= 1 &&
        sample(text, /^quench_human_step_decision_seconds_count\{[^}]*\} (\d+)/m) >= 1 &&
        sample(text, /^quench_human_step_sla_breaches_total\{[^}]*\} (\d+)/m) >= 1 &&
        sample(text, /^quench_slo_evaluation_errors_total\{[^}]*\} (\d+)/m) >= 1 &&
        sample(text, /^quench_slo_error_budget_remaining_ratio\{[^}]*\} (\S+)/m) !== 0;
      return ready ? text : undefined;
    });

    // rate() and increase() need two samples in their window.
    await waitFor('Prometheus to hold a few scrapes of Quench', async () => {
      const r = await promQuery('count_over_time(quench_leader[1m])');
      return Number((r.data?.result[0] as { value?: [number, string] } | undefined)?.value?.[1] ?? 0) >= 4;
    });
  }, 180_000);

  afterAll(async () => {
    await prometheus?.stop();
    if (serve) {
      serve.kill('SIGTERM');
      await serve.exited;
    }
    await drop?.();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('every metric Quench exports is in the docs/operations.md table (and no other)', () => {
    const exported = exportedMetrics(exposition);
    const documented = documentedMetrics(readFileSync(join(repoRoot, 'docs/operations.md'), 'utf8'));
    const quenchOnly = (m: Map<string, string>) => new Map([...m].filter(([name]) => name.startsWith('quench_')));
    expect(Object.fromEntries(quenchOnly(documented))).toEqual(Object.fromEntries(quenchOnly(exported)));
  });

  it('every dashboard query parses and returns data', async () => {
    const job = 'target'; // test/support/prometheus.ts names its scrape job so
    const failures: string[] = [];
    for (const q of dashboardQueries(JSON.parse(readFileSync(join(repoRoot, 'deploy/grafana/quench-dashboard.json'), 'utf8')))) {
      const expr = substitute(q.expr, { job, service: 'ops-demo', rateInterval: '1m' });
      const r = await promQuery(expr);
      if (r.status !== 'success') failures.push(`${q.panel}: ${expr}: ${r.error}`);
      else if (r.data!.result.length === 0) failures.push(`${q.panel}: ${expr}: no data`);
    }
    expect(failures).toEqual([]);
  });

  it('every alert rule parses; its parts return data; the rules load healthy', async () => {
    const failures: string[] = [];
    const rules = ruleList(parse(readFileSync(join(repoRoot, 'deploy/prometheus/quench-alerts.yaml'), 'utf8')));
    expect(rules.length).toBeGreaterThanOrEqual(10);
    for (const rule of rules) {
      const whole = await promQuery(rule.expr);
      if (whole.status !== 'success') failures.push(`${rule.alert}: ${whole.error}`);
      for (const part of dataParts(rule.expr)) {
        const r = await promQuery(part);
        if (r.status !== 'success') failures.push(`${rule.alert}: ${part}: ${r.error}`);
        else if (r.data!.result.length === 0) failures.push(`${rule.alert}: ${part}: no data`);
      }
    }
    expect(failures).toEqual([]);
    const loaded = await waitFor('Prometheus to evaluate the rules', async () => {
      const res = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as {
        data: { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> };
      };
      const all = res.data.groups.flatMap((g) => g.rules);
      return all.length === rules.length && all.every((r) => r.health !== 'unknown') ? all : undefined;
    });
    expect(loaded.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError}`)).toEqual([]);
  });

  it('the alerts for what went wrong fire, and those for what did not stay quiet', async () => {
    const expected = ['QuenchStepDeadLetters', 'QuenchSloEvaluationErrors', 'QuenchHumanStepSlaBreached', 'QuenchAlertmanagerTruncatedAlerts'];
    let firing: Array<{ labels: Record<string, string>; state: string; value: string }> = [];
    for (let i = 0; i < 60; i++) {
      const res = (await (await fetch(`${prometheus.url}/api/v1/alerts`)).json()) as { data: { alerts: typeof firing } };
      firing = res.data.alerts.filter((a) => a.state === 'firing');
      if (expected.every((n) => firing.some((a) => a.labels.alertname === n))) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(firing.map((a) => a.labels.alertname)).toEqual(expect.arrayContaining(expected));
    const byName = (n: string) => firing.filter((a) => a.labels.alertname === n);
    // The dead letters, counted once (max), not once per replica.
    const deadLetters = sample(await metricsText(), /^quench_engine_dead_letters (\d+)/m);
    expect(byName('QuenchStepDeadLetters').map((a) => Number(a.value))).toEqual([deadLetters]);
    expect(byName('QuenchSloEvaluationErrors').map((a) => a.labels.slo)).toEqual(['ops-unreachable']);
    expect(byName('QuenchHumanStepSlaBreached').map((a) => a.labels.playbook)).toEqual(['ops-expire']);
    expect(byName('QuenchAlertmanagerTruncatedAlerts').map((a) => a.labels.receiver)).toEqual(['quench']);
    for (const quiet of ['QuenchAbsent', 'QuenchNoLeader', 'QuenchSeveralLeaders', 'QuenchLeaderNotEvaluating', 'QuenchSloEvaluationStalled', 'QuenchAuditHeadWentBack', 'QuenchInboxDeadLetters'])
      expect(byName(quiet), quiet).toEqual([]);
  }, 90_000);
});
