import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { type RunningService, startService } from '../../src/service.js';
import { ALERTMANAGER_BIN, type AlertmanagerProcess, alertmanagerAvailable, startAlertmanager } from '../support/alertmanager.js';
import { type FakePagerDuty, startFakePagerDuty } from '../support/fake-pagerduty.js';
import { alertmanagerBody, signPagerDuty } from '../support/ingest-webhooks.js';
import { createPostgresDatabase, databaseKinds } from '../support/databases.js';
import { waitFor } from '../support/wait-for.js';

// Two ways alerts used to vanish or echo (issue 16, "Quench watched like any production
// service"): Alertmanager cutting a notification at `max_alerts` (the cut alerts are never sent,
// only their count), and Quench's own PagerDuty page coming back as a V3 webhook.

/** A service whose JSON log lines the test can read. */
async function startLogged(env: Record<string, string>): Promise<{ service: RunningService; logs: () => Array<Record<string, unknown>> }> {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const service = await startService(loadConfig({ QUENCH_DATA_DIR: 'memory://', QUENCH_ENGINE_POLL_MS: '200', ...env }), {
    logger: pino({ level: 'info' }, sink),
    port: 0,
    host: '127.0.0.1',
  });
  return { service, logs: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const metricValue = async (service: RunningService, pattern: RegExp) => {
  const m = pattern.exec(await service.ctx.metrics.registry.metrics());
  return m ? Number(m[1]) : undefined;
};

const TOKEN = 'am-webhook-token';

if (!alertmanagerAvailable) console.warn(`skipping the max_alerts test: ${ALERTMANAGER_BIN} not found (apt-get install prometheus-alertmanager)`);

describe.skipIf(!alertmanagerAvailable)('Alertmanager max_alerts: the cut alerts are counted and logged', () => {
  let service: RunningService;
  let logs: () => Array<Record<string, unknown>>;
  let am: AlertmanagerProcess;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'quench-ops-am-'));
    ({ service, logs } = await startLogged({
      QUENCH_PLAYBOOK_DIR: join(dir, 'none'),
      QUENCH_SLO_DIR: join(dir, 'none'),
      QUENCH_ALERTMANAGER_TOKEN: TOKEN,
    }));
    am = await startAlertmanager({
      webhookUrl: `http://127.0.0.1:${service.port}/webhooks/alertmanager`,
      bearerToken: TOKEN,
      maxAlerts: 2,
    });
  });
  afterAll(async () => {
    await am?.stop();
    await service?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('counts quench_alertmanager_truncated_alerts_total and logs the group key', async () => {
    const startsAt = new Date().toISOString();
    // One group (group_by alertname) of five alerts, posted at once: one notification of two.
    await am.postAlerts(
      ['a', 'b', 'c', 'd', 'e'].map((instance) => ({ labels: { alertname: 'DiskFull', service: 'batch', instance }, startsAt })),
    );
    const stored = await waitFor('the notification to be stored', async () => {
      const [row] = await service.ctx.db.rows<{ body: string | Record<string, unknown> }>(sql`select body from ingest_inbox limit 1`);
      return row;
    });
    const body = (typeof stored.body === 'string' ? JSON.parse(stored.body) : stored.body) as { truncatedAlerts: number; groupKey: string; alerts: unknown[] };
    expect(body.alerts).toHaveLength(2);
    expect(body.truncatedAlerts).toBe(3);

    expect(await metricValue(service, /^quench_alertmanager_truncated_alerts_total\{receiver="quench"\} (\d+)$/m)).toBe(3);
    const line = logs().find((l) => l.truncatedAlerts !== undefined);
    expect(line).toMatchObject({ level: 40, groupKey: body.groupKey, truncatedAlerts: 3, receiver: 'quench', alerts: 2 });
    expect(String(line!.msg)).toMatch(/max_alerts/);
  });
});

// Quench pages through Events v2 with the run's correlation id as dedup key; PagerDuty's V3
// webhook for that incident carries it back as `incident_key`.
const PAGING = `apiVersion: quench/v1
kind: Playbook
metadata: { name: page-on-alert, owner: sre }
triggers:
  - source: alertmanager
    labels: { service: checkout }
steps:
  - id: page
    kind: action
    action: pagerduty.trigger
    params: { summary: "checkout is down", severity: critical }
`;
const ON_INCIDENT = `apiVersion: quench/v1
kind: Playbook
metadata: { name: on-pagerduty-incident, owner: sre }
triggers:
  - source: pagerduty
steps:
  - id: note
    kind: action
    action: log
    params: { message: "an incident" }
`;
const PD_SECRET = 'pd-webhook-secret';
const fixture = readFileSync(new URL('../fixtures/pagerduty/incident-triggered.json', import.meta.url), 'utf8');

describe.each(databaseKinds)('Quench’s own PagerDuty incident coming back as a webhook starts nothing (%s)', (kind) => {
  let service: RunningService;
  let drop: (() => Promise<void>) | undefined;
  let logs: () => Array<Record<string, unknown>>;
  let pd: FakePagerDuty;
  let dir: string;
  const rows = <T>(q: ReturnType<typeof sql>) => service.ctx.db.rows<T>(q);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'quench-ops-pd-'));
    writeFileSync(join(dir, 'page.yaml'), PAGING);
    writeFileSync(join(dir, 'incident.yaml'), ON_INCIDENT);
    pd = await startFakePagerDuty();
    const database: Record<string, string> = {};
    if (kind === 'postgres') {
      const created = await createPostgresDatabase('quench_ops');
      database.DATABASE_URL = created.url;
      drop = created.drop;
    }
    ({ service, logs } = await startLogged({
      ...database,
      QUENCH_PLAYBOOK_DIR: dir,
      QUENCH_SLO_DIR: join(dir, 'none'),
      QUENCH_ALERTMANAGER_TOKEN: TOKEN,
      PAGERDUTY_ROUTING_KEY: 'R0UTINGKEY0000000000000000000000',
      PAGERDUTY_EVENTS_URL: pd.eventsUrl,
      PAGERDUTY_WEBHOOK_SECRET: PD_SECRET,
    }));
  });
  afterAll(async () => {
    await service?.stop();
    await pd?.close();
    await drop?.();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const post = async (path: string, body: string, headers: Record<string, string>) => {
    const res = await fetch(`http://127.0.0.1:${service.port}${path}`, { method: 'POST', headers, body });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const pdWebhook = (eventId: string, incidentId: string, incidentKey: string) => {
    const payload = JSON.parse(fixture) as { event: { id: string; data: { id: string; incident_key: string } } };
    payload.event.id = eventId;
    payload.event.data.id = incidentId;
    payload.event.data.incident_key = incidentKey;
    const body = JSON.stringify(payload);
    return post('/webhooks/pagerduty', body, signPagerDuty([PD_SECRET], body, `wh-${eventId}`));
  };
  const outcomeOf = (eventId: string) =>
    waitFor(`the PagerDuty event ${eventId} to be decided`, async () => {
      const [row] = await rows<{ outcome: string | null }>(sql`select outcome from ingest_events where source = 'pagerduty' and dedup_key = ${eventId}`);
      return row?.outcome ?? undefined;
    });
  const runsOf = async (playbook: string) => (await service.ctx.ports.engine.listRuns()).filter((r) => r.playbook === playbook);

  it('recognises the incident by its dedup key: 202, no run, logged, counted, audited as ignored', async () => {
    const alert = alertmanagerBody([{ labels: { alertname: 'Down', service: 'checkout' }, startsAt: new Date().toISOString() }]);
    expect((await post('/webhooks/alertmanager', alert, { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` })).status).toBe(202);
    const incident = await waitFor('Quench to page PagerDuty', async () => [...pd.incidents.values()][0]);
    const [paging] = await runsOf('page-on-alert');
    expect(incident.incidentKey).toBe(paging!.correlationId);

    const answer = await pdWebhook('EV-OWN-1', incident.id, incident.incidentKey);
    expect(answer.status).toBe(202);
    expect(await outcomeOf('EV-OWN-1')).toBe('own_incident');
    expect(await runsOf('on-pagerduty-incident')).toHaveLength(0);

    // The decision's entry is chained by the audit chain loop after the decision commits: wait for it.
    const audited = await waitFor('the ignored incident to be chained into the audit trail', async () => {
      const [row] = await rows<{ data: string | Record<string, unknown> }>(
        sql`select data from audit_events where action = 'ingest.ignored' and subject_id = ${`pagerduty:incident:${incident.id}`}`,
      );
      return row;
    });
    const data = typeof audited.data === 'string' ? JSON.parse(audited.data) : audited.data;
    expect(data).toMatchObject({ outcome: 'own_incident', incidentKey: incident.incidentKey });
    expect(await metricValue(service, /^quench_ingest_events_total\{source="pagerduty",outcome="own_incident"\} (\d+)$/m)).toBe(1);
    expect(logs().find((l) => l.incidentKey === incident.incidentKey && /own/.test(String(l.msg)))).toBeDefined();
  });

  it('an incident with another dedup key (or none) starts its playbook as before', async () => {
    const before = (await runsOf('on-pagerduty-incident')).length;
    expect((await pdWebhook('EV-OTHER-1', 'Q999001', 'someone-elses-alert')).status).toBe(202);
    expect(await outcomeOf('EV-OTHER-1')).toBe('started');
    await waitFor('the incident playbook to run', async () => (await runsOf('on-pagerduty-incident')).length === before + 1);
  });
});
